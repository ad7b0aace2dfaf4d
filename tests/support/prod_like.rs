//! A production-like Odoo 17 database for tests: the modules a small web shop runs, and SQL
//! that gives it live-looking (but fake) credentials everywhere a neutralize script touches —
//! payment keys, mail servers in and out, calendar tokens, OAuth, web push, reCAPTCHA, IAP,
//! a website domain with a CDN, a carrier in production, a webhook action.
//!
//! Every credential is an obviously fake value assembled at run time (`test-token-…`, with
//! the providers' prefixes glued on by `concat!`), so no token-shaped string is committed.

use super::real_odoo::TemplateSpec;

/// The modules of the production-like shop (their dependencies come along).
pub const MODULES: &[&str] = &[
    "website_sale",
    "sale_management",
    "payment_stripe",
    "payment_paypal",
    "payment_adyen",
    "google_calendar",
    "microsoft_calendar",
    "auth_oauth",
    "delivery",
];

/// A fake value with a provider's prefix, e.g. `fake("sk", "live")`.
fn fake(prefix: &str, kind: &str) -> String {
    format!("{prefix}_{kind}_test-token-{}", "0f".repeat(12))
}

/// The SQL making a fresh database look like production (run as superuser).
pub fn seed_sql() -> String {
    let stripe_secret = fake(concat!("s", "k"), "live");
    let stripe_public = fake(concat!("p", "k"), "live");
    let stripe_webhook = fake(concat!("wh", "sec"), "live");
    let adyen_key = fake("AQE", "live");
    let adyen_hmac = "0F".repeat(32);
    let paypal_pdt = fake("pdt", "live");
    let vapid_private = fake("vapid", "private");
    let vapid_public = fake("vapid", "public");
    let sfu = fake("sfu", "key");
    let recaptcha_public = fake("6L", "site");
    let recaptcha_private = fake("6L", "secret");
    let google_token = fake(concat!("ya", "29"), "access");
    let google_refresh = fake("1", "refresh");
    let ms_token = fake("EwB", "access");
    let ms_refresh = fake("M", "refresh");
    let smtp_pass = fake("smtp", "password");
    let imap_pass = fake("imap", "password");
    let oauth_client = fake("oauth", "client");
    format!(
        r#"
-- Outgoing mail through real-looking providers; templates pinned to one of them.
INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, smtp_authentication,
                            smtp_user, smtp_pass, active, sequence)
VALUES ('Mailgun (production)', 'smtp.mailgun.org', 587, 'starttls', 'login',
        'postmaster@mg.acme-trading.example', '{smtp_pass}', true, 10),
       ('SendGrid (bulk)', 'smtp.sendgrid.net', 465, 'ssl', 'login', 'apikey', '{smtp_pass}', true, 20);
UPDATE mail_template SET mail_server_id = (SELECT min(id) FROM ir_mail_server)
 WHERE id IN (SELECT id FROM mail_template ORDER BY id LIMIT 3);

-- Incoming mail (fetchmail lives in `mail` since 16.0).
INSERT INTO fetchmail_server (name, server, port, server_type, is_ssl, "user", password, state,
                              active, priority, attach, original)
VALUES ('Support inbox', 'imap.acme-trading.example', 993, 'imap', true,
        'support@acme-trading.example', '{imap_pass}', 'done', true, 5, true, false);

-- Web push (VAPID keys, a registered device, a queued notification), SFU, reCAPTCHA.
INSERT INTO ir_config_parameter (key, value) VALUES
    ('mail.web_push_vapid_private_key', '{vapid_private}'),
    ('mail.web_push_vapid_public_key', '{vapid_public}'),
    ('mail.sfu_server_key', '{sfu}'),
    ('recaptcha_public_key', '{recaptcha_public}'),
    ('recaptcha_private_key', '{recaptcha_private}');
UPDATE ir_config_parameter SET value = 'https://shop.acme-trading.example' WHERE key = 'web.base.url';
INSERT INTO mail_partner_device (partner_id, endpoint, keys)
SELECT partner_id, 'https://push.acme-trading.example/send/test-token-device', '{{"p256dh": "test-token-p256dh", "auth": "test-token-auth"}}'
  FROM res_users WHERE login = 'admin';
INSERT INTO mail_notification_web_push (user_device, payload)
SELECT id, '{{"title": "New order"}}' FROM mail_partner_device;

-- Payments: live providers with credentials, published on the shop.
UPDATE payment_provider SET state = 'enabled', is_published = true,
       stripe_secret_key = '{stripe_secret}', stripe_publishable_key = '{stripe_public}',
       stripe_webhook_secret = '{stripe_webhook}'
 WHERE code = 'stripe';
UPDATE payment_provider SET state = 'enabled', is_published = true,
       paypal_email_account = 'payments@acme-trading.example', paypal_pdt_token = '{paypal_pdt}'
 WHERE code = 'paypal';
UPDATE payment_provider SET state = 'enabled', is_published = true,
       adyen_merchant_account = 'AcmeTradingECOM', adyen_api_key = '{adyen_key}',
       adyen_client_key = 'live_test-token-client', adyen_hmac_key = '{adyen_hmac}',
       adyen_api_url_prefix = 'test-token-prefix'
 WHERE code = 'adyen';

-- Shipping: the carriers in their production environment.
UPDATE delivery_carrier SET prod_environment = true;
INSERT INTO delivery_carrier (name, product_id, delivery_type, invoice_policy, prod_environment,
                              active, integration_level, margin, fixed_margin, free_over, amount)
SELECT '{{"en_US": "Express (rules)"}}', product_id, 'base_on_rule', invoice_policy, true,
       true, integration_level, 0, 0, false, 0
  FROM delivery_carrier ORDER BY id LIMIT 1;

-- The website on its real domain, behind a CDN, open to crawlers.
UPDATE website SET domain = 'https://shop.acme-trading.example', cdn_activated = true,
       cdn_url = 'https://cdn.acme-trading.example', robots_txt = E'User-agent: *\nAllow: /';

-- IAP: a current token, one with a suffix, a legacy long one.
INSERT INTO iap_account (service_name, account_token) VALUES
    ('sms', 'test-token-0123456789abcdef012345'),
    ('partner_autocomplete', 'test-token-0123456789+sandbox'),
    ('snailmail', 'test-token-legacy-0123456789abcdef012345');

-- Calendars: the admin synchronizes Google and Outlook.
INSERT INTO google_calendar_credentials (calendar_token, calendar_rtoken, calendar_sync_token,
                                         synchronization_stopped, calendar_token_validity)
VALUES ('{google_token}', '{google_refresh}', 'test-token-sync', false, now() + interval '1 hour');
UPDATE res_users SET google_calendar_account_id = (SELECT max(id) FROM google_calendar_credentials),
       microsoft_calendar_token = '{ms_token}', microsoft_calendar_rtoken = '{ms_refresh}',
       microsoft_calendar_token_validity = now() + interval '1 hour'
 WHERE login = 'admin';
INSERT INTO microsoft_calendar_credentials (calendar_sync_token, synchronization_stopped, last_sync_date)
VALUES ('test-token-delta', false, now());
UPDATE res_users SET microsoft_calendar_account_id = (SELECT max(id) FROM microsoft_calendar_credentials)
 WHERE login = 'admin';

-- Sign-in with Google.
UPDATE auth_oauth_provider SET enabled = true, client_id = '{oauth_client}'
 WHERE name = 'Google OAuth2';

-- A server action calling a partner's webhook.
INSERT INTO ir_act_server (name, type, usage, binding_type, model_id, model_name, state, webhook_url)
SELECT '{{"en_US": "Notify the ERP hub"}}', 'ir.actions.server', 'ir_actions_server', 'action',
       id, 'res.partner', 'webhook', 'https://hub.acme-trading.example/hooks/test-token-hook'
  FROM ir_model WHERE model = 'res.partner';
"#
    )
}

/// The production-like template.
pub fn spec(seed: &str) -> TemplateSpec<'_> {
    TemplateSpec {
        label: "prod17",
        modules: MODULES,
        seed_sql: seed,
    }
}
