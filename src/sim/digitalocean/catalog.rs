//! What the real API knows and checks: size, region and image slugs, hostnames, IP
//! addresses, CIDRs and firewall port ranges. A request the real API would refuse (422) is
//! refused here too, so a bug that sends one shows up in tests.

use serde_json::{json, Value};

/// vCPUs, memory (MiB), disk (GiB), monthly price of the droplet size slugs we know.
pub fn size_facts(slug: &str) -> Option<(u64, u64, u64, f64)> {
    Some(match slug {
        "s-1vcpu-512mb-10gb" => (1, 512, 10, 4.0),
        "s-1vcpu-1gb" => (1, 1024, 25, 6.0),
        "s-1vcpu-2gb" => (1, 2048, 50, 12.0),
        "s-2vcpu-2gb" => (2, 2048, 60, 18.0),
        "s-2vcpu-4gb" => (2, 4096, 80, 24.0),
        "s-4vcpu-8gb" => (4, 8192, 160, 48.0),
        "s-8vcpu-16gb" => (8, 16384, 320, 96.0),
        "g-2vcpu-8gb" => (2, 8192, 25, 63.0),
        "g-4vcpu-16gb" => (4, 16384, 50, 126.0),
        _ => return None,
    })
}

/// The region slugs DigitalOcean serves (`GET /v2/regions`).
pub const REGIONS: &[&str] = &[
    "ams3", "atl1", "blr1", "fra1", "lon1", "nyc1", "nyc2", "nyc3", "sfo2", "sfo3", "sgp1", "syd1",
    "tor1",
];

/// Public image slugs the simulator knows; numeric ids (snapshots, deprecated images) are
/// accepted too.
pub const IMAGES: &[&str] = &[
    "ubuntu-24-04-x64",
    "ubuntu-22-04-x64",
    "debian-12-x64",
    "debian-11-x64",
    "rockylinux-9-x64",
    "docker-20-04",
];

/// Managed database size slugs (`GET /v2/databases/options`, PostgreSQL).
pub fn cluster_size_ok(slug: &str) -> bool {
    matches!(
        slug,
        "db-s-1vcpu-1gb"
            | "db-s-1vcpu-2gb"
            | "db-s-2vcpu-4gb"
            | "db-s-4vcpu-8gb"
            | "db-s-6vcpu-16gb"
            | "db-s-8vcpu-32gb"
            | "gd-2vcpu-8gb"
            | "gd-4vcpu-16gb"
    )
}

/// PostgreSQL versions the managed service offers.
pub const PG_VERSIONS: &[&str] = &["13", "14", "15", "16", "17"];

pub fn size_object(slug: &str) -> Value {
    let (vcpus, memory, disk, price) = size_facts(slug).unwrap_or((1, 1024, 25, 6.0));
    json!({
        "slug": slug, "memory": memory, "vcpus": vcpus, "disk": disk, "transfer": 1.0,
        "price_monthly": price, "price_hourly": price / 730.0,
        "regions": REGIONS, "available": true, "description": "Basic"
    })
}

pub fn region_object(slug: &str) -> Value {
    json!({"slug": slug, "name": slug.to_uppercase(), "sizes": ["s-1vcpu-1gb", "s-2vcpu-4gb"], "available": true,
           "features": ["backups", "ipv6", "metadata", "install_agent", "storage"]})
}

/// A droplet name: a valid hostname (letters, digits, `.` and `-`; no leading or trailing
/// `-`/`.`; at most 255 characters).
pub fn hostname_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// An image is a known slug or a numeric id.
pub fn image_ok(image: &str) -> bool {
    IMAGES.contains(&image) || (!image.is_empty() && image.chars().all(|c| c.is_ascii_digit()))
}

/// Tag names: `^[a-zA-Z0-9_\-\:]+$`, at most 255 characters (the official spec).
pub fn tag_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 255
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'))
}

/// A firewall rule's `ports`: a port, a range `a-b` within 1..65535, `all` or `0` (all).
pub fn ports_ok(ports: &str) -> bool {
    let port = |p: &str| p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
    match ports {
        "all" | "0" => true,
        p => match p.split_once('-') {
            Some((a, b)) => port(a) && port(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok(),
            None => port(p),
        },
    }
}

/// An address of a firewall rule: an IPv4/IPv6 address or CIDR.
pub fn cidr_ok(a: &str) -> bool {
    let (ip, bits) = match a.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (a, None),
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(addr) => bits.is_none_or(|b| {
            b.parse::<u8>()
                .is_ok_and(|n| n <= if addr.is_ipv4() { 32 } else { 128 })
        }),
        Err(_) => false,
    }
}

/// A DNS record's data for its type (A: IPv4, AAAA: IPv6, CNAME/NS/MX: a hostname or `@`).
pub fn record_data_ok(kind: &str, data: &str) -> Result<(), String> {
    let host = |d: &str| d == "@" || hostname_ok(d.trim_end_matches('.'));
    match kind {
        "A" if data.parse::<std::net::Ipv4Addr>().is_err() => {
            Err(format!("data `{data}` is not a valid IPv4 address"))
        }
        "AAAA" if data.parse::<std::net::Ipv6Addr>().is_err() => {
            Err(format!("data `{data}` is not a valid IPv6 address"))
        }
        "CNAME" | "NS" | "MX" if !host(data) => Err(format!("data `{data}` is not a hostname")),
        _ => Ok(()),
    }
}

/// A record name: `@` or hostname labels (`_` allowed, as in `_dmarc`; `*` as a wildcard).
pub fn record_name_ok(name: &str) -> bool {
    name == "@"
        || name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && (l == "*"
                    || l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_real_api_refuses() {
        assert!(hostname_ok("acme-staging"));
        assert!(!hostname_ok("bad name!"));
        assert!(!hostname_ok("-lead"));
        assert!(ports_ok("22") && ports_ok("1-24") && ports_ok("all") && ports_ok("0"));
        assert!(!ports_ok("") && !ports_ok("70000") && !ports_ok("30-20"));
        assert!(cidr_ok("0.0.0.0/0") && cidr_ok("::/0") && cidr_ok("203.0.113.10"));
        assert!(!cidr_ok("example.com") && !cidr_ok("10.0.0.0/33"));
        assert!(record_data_ok("A", "203.0.113.7").is_ok());
        assert!(record_data_ok("A", "not-an-ip").is_err());
        assert!(record_data_ok("AAAA", "203.0.113.7").is_err());
        assert!(image_ok("ubuntu-24-04-x64") && image_ok("123456") && !image_ok("windows-xp"));
        assert!(!REGIONS.contains(&"mars1"));
    }
}
