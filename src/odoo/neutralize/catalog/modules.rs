//! What each 17.0 Community module with a script (besides `base` and the payment
//! providers) neutralizes.

use super::Entry;
use super::Op;
use super::Val::{self, Bool, Null, Text};

const fn set(what: &'static str, table: &'static str, set: &'static [(&'static str, Val)]) -> Op {
    Op::Set {
        what,
        table,
        set,
        only: None,
    }
}

const fn set_where(
    what: &'static str,
    table: &'static str,
    set: &'static [(&'static str, Val)],
    only: &'static str,
) -> Op {
    Op::Set {
        what,
        table,
        set,
        only: Some(only),
    }
}

/// Every module but `base` and the payment providers (those are in [`PAYMENT`]).
pub const MODULES: &[Entry] = &[
    Entry {
        module: "web",
        ops: &[Op::ShowView {
            what: "show the \"neutralized database\" banner",
            key: "web.neutralize_banner",
        }],
    },
    Entry {
        module: "mail",
        ops: &[
            set(
                "detach mail templates from specific outgoing servers",
                "mail_template",
                &[("mail_server_id", Null)],
            ),
            set(
                "deactivate incoming mail servers",
                "fetchmail_server",
                &[("active", Bool(false))],
            ),
            Op::DropParams {
                what: "delete the web-push VAPID keys and the SFU server key",
                keys: &[
                    "mail.web_push_vapid_private_key",
                    "mail.web_push_vapid_public_key",
                    "mail.sfu_server_key",
                ],
            },
            Op::Empty {
                what: "drop queued web-push notifications",
                table: "mail_notification_web_push",
            },
            Op::Empty {
                what: "forget registered web-push devices",
                table: "mail_partner_device",
            },
        ],
    },
    // Incoming mail lived in its own module up to 15.0.
    Entry {
        module: "fetchmail",
        ops: &[set(
            "deactivate incoming mail servers",
            "fetchmail_server",
            &[("active", Bool(false))],
        )],
    },
    Entry {
        module: "payment",
        ops: &[set_where(
            "disable every payment provider not already in test or disabled",
            "payment_provider",
            &[("state", Text("disabled"))],
            "state NOT IN ('test', 'disabled')",
        )],
    },
    Entry {
        module: "delivery",
        ops: &[
            set(
                "switch every carrier to its test environment",
                "delivery_carrier",
                &[("prod_environment", Bool(false))],
            ),
            set_where(
                "archive carriers of external shipping providers",
                "delivery_carrier",
                &[("active", Bool(false))],
                "delivery_type NOT IN ('fixed', 'base_on_rule')",
            ),
        ],
    },
    Entry {
        module: "delivery_mondialrelay",
        ops: &[set(
            "use the Mondial Relay test brand",
            "delivery_carrier",
            &[("mondialrelay_brand", Text("BDTEST  "))],
        )],
    },
    Entry {
        module: "website",
        ops: &[
            set("clear website domains", "website", &[("domain", Null)]),
            Op::ShowView {
                what: "show the \"neutralized\" website ribbon",
                key: "website.neutralize_ribbon",
            },
            set(
                "turn the CDN off",
                "website",
                &[("cdn_activated", Bool(false))],
            ),
            set(
                "forbid crawlers (robots.txt Disallow: /)",
                "website",
                &[("robots_txt", Text("User-agent: *\nDisallow: /"))],
            ),
        ],
    },
    Entry {
        module: "website_sale_autocomplete",
        ops: &[set(
            "replace the Google Places API key",
            "website",
            &[("google_places_api_key", Text("dummy"))],
        )],
    },
    Entry {
        module: "website_event_jitsi",
        ops: &[Op::DropParams {
            what: "forget the Jitsi server",
            keys: &["website_jitsi.jitsi_server_domain"],
        }],
    },
    Entry {
        module: "google_recaptcha",
        ops: &[Op::BlankParams {
            what: "blank the reCAPTCHA keys",
            keys: &["recaptcha_public_key", "recaptcha_private_key"],
        }],
    },
    Entry {
        module: "website_cf_turnstile",
        ops: &[Op::BlankParams {
            what: "blank the Cloudflare Turnstile keys",
            keys: &["cf.turnstile_site_key", "cf.turnstile_secret_key"],
        }],
    },
    Entry {
        module: "iap",
        ops: &[Op::DisableIapTokens],
    },
    Entry {
        module: "google_calendar",
        ops: &[set(
            "drop Google Calendar tokens and stop synchronization",
            "google_calendar_credentials",
            &[
                ("calendar_rtoken", Null),
                ("calendar_token", Null),
                ("synchronization_stopped", Bool(true)),
            ],
        )],
    },
    Entry {
        module: "microsoft_calendar",
        ops: &[
            set(
                "drop users' Outlook tokens",
                "res_users",
                &[
                    ("microsoft_calendar_token", Null),
                    ("microsoft_calendar_rtoken", Null),
                ],
            ),
            set(
                "stop Outlook synchronization",
                "microsoft_calendar_credentials",
                &[
                    ("calendar_sync_token", Null),
                    ("synchronization_stopped", Bool(true)),
                    ("last_sync_date", Null),
                ],
            ),
        ],
    },
    Entry {
        module: "auth_oauth",
        ops: &[set(
            "disable OAuth providers",
            "auth_oauth_provider",
            &[("enabled", Bool(false))],
        )],
    },
    Entry {
        module: "account_edi_proxy_client",
        ops: &[
            set_where(
                "Italian e-invoicing proxy users to demo mode",
                "account_edi_proxy_client_user",
                &[("edi_mode", Text("demo"))],
                "proxy_type = 'l10n_it_edi'",
            ),
            set_where(
                "other e-invoicing proxy users (Malaysia aside) to test mode",
                "account_edi_proxy_client_user",
                &[("edi_mode", Text("test"))],
                "proxy_type <> 'l10n_it_edi' AND proxy_type <> 'l10n_my_edi'",
            ),
        ],
    },
    Entry {
        module: "l10n_my_edi",
        ops: &[
            set_where(
                "archive Malaysian e-invoicing proxy users",
                "account_edi_proxy_client_user",
                &[("active", Bool(false))],
                "proxy_type = 'l10n_my_edi'",
            ),
            set(
                "Malaysian e-invoicing to test mode",
                "res_company",
                &[("l10n_my_edi_mode", Text("test"))],
            ),
        ],
    },
    Entry {
        module: "l10n_eg_edi_eta",
        ops: &[set(
            "Egyptian ETA: test environment, placeholder secret",
            "res_company",
            &[
                ("l10n_eg_production_env", Bool(false)),
                ("l10n_eg_client_secret", Text("dummy")),
            ],
        )],
    },
    Entry {
        module: "l10n_es_edi_sii",
        ops: &[set(
            "Spanish SII: test environment",
            "res_company",
            &[("l10n_es_edi_test_env", Bool(true))],
        )],
    },
    Entry {
        module: "l10n_hu_edi",
        ops: &[set_where(
            "Hungarian NAV: test mode, credentials blanked",
            "res_company",
            &[
                ("l10n_hu_edi_server_mode", Text("test")),
                ("l10n_hu_edi_username", Text("")),
                ("l10n_hu_edi_password", Text("")),
                ("l10n_hu_edi_signature_key", Text("")),
                ("l10n_hu_edi_replacement_key", Text("")),
            ],
            "l10n_hu_edi_server_mode = 'production'",
        )],
    },
    Entry {
        module: "l10n_in_edi",
        ops: &[set(
            "Indian e-invoicing: test environment, credentials cleared",
            "res_company",
            &[
                ("l10n_in_edi_production_env", Bool(false)),
                ("l10n_in_edi_username", Null),
                ("l10n_in_edi_password", Null),
                ("l10n_in_edi_token", Null),
                ("l10n_in_edi_token_validity", Null),
            ],
        )],
    },
    Entry {
        module: "l10n_in_edi_ewaybill",
        ops: &[set(
            "Indian e-waybill: credentials cleared",
            "res_company",
            &[
                ("l10n_in_edi_ewaybill_username", Null),
                ("l10n_in_edi_ewaybill_password", Null),
                ("l10n_in_edi_ewaybill_auth_validity", Null),
            ],
        )],
    },
    Entry {
        module: "l10n_jo_edi",
        ops: &[set(
            "Jordanian JoFotara: placeholder credentials",
            "res_company",
            &[
                ("l10n_jo_edi_secret_key", Text("dummy_secret")),
                ("l10n_jo_edi_client_identifier", Text("dummy_id")),
            ],
        )],
    },
    Entry {
        module: "l10n_ke_edi_tremol",
        ops: &[set(
            "Kenyan Tremol fiscal device: no proxy address",
            "res_company",
            &[("l10n_ke_cu_proxy_address", Text(""))],
        )],
    },
    Entry {
        module: "l10n_ro_efactura",
        ops: &[set(
            "Romanian e-Factura: test environment, credentials cleared",
            "res_company",
            &[
                ("l10n_ro_edi_test_env", Bool(true)),
                ("l10n_ro_edi_client_id", Null),
                ("l10n_ro_edi_client_secret", Null),
                ("l10n_ro_edi_access_token", Null),
                ("l10n_ro_edi_refresh_token", Null),
            ],
        )],
    },
    Entry {
        module: "l10n_rs_edi",
        ops: &[set(
            "Serbian eFaktura: demo environment, placeholder key",
            "res_company",
            &[
                ("l10n_rs_edi_api_key", Text("dummy_key")),
                ("l10n_rs_edi_demo_env", Bool(true)),
            ],
        )],
    },
    Entry {
        module: "l10n_sa_edi",
        ops: &[set(
            "Saudi ZATCA: sandbox mode",
            "res_company",
            &[("l10n_sa_api_mode", Text("sandbox"))],
        )],
    },
    Entry {
        module: "l10n_tr_nilvera",
        ops: &[set(
            "Turkish Nilvera: sandbox, key and purchase journal cleared",
            "res_company",
            &[
                ("l10n_tr_nilvera_api_key", Null),
                ("l10n_tr_nilvera_environment", Text("sandbox")),
                ("l10n_tr_nilvera_purchase_journal_id", Null),
            ],
        )],
    },
    Entry {
        module: "l10n_vn_edi_viettel",
        ops: &[set(
            "Vietnamese Viettel: credentials blanked",
            "res_company",
            &[
                ("l10n_vn_edi_username", Text("")),
                ("l10n_vn_edi_password", Text("")),
            ],
        )],
    },
    Entry {
        module: "pos_adyen",
        ops: &[set(
            "Adyen POS terminals to test mode",
            "pos_payment_method",
            &[("adyen_test_mode", Bool(true))],
        )],
    },
    Entry {
        module: "pos_mercado_pago",
        ops: &[set_where(
            "Mercado Pago POS: placeholder credentials",
            "pos_payment_method",
            &[
                ("mp_bearer_token", Text("dummy_value")),
                ("mp_webhook_secret_key", Text("dummy_value")),
            ],
            "mp_bearer_token IS NOT NULL",
        )],
    },
    Entry {
        module: "pos_paytm",
        ops: &[set(
            "Paytm POS: test mode, placeholder key",
            "pos_payment_method",
            &[
                ("paytm_test_mode", Bool(true)),
                ("paytm_merchant_key", Text("dummykey00012345")),
            ],
        )],
    },
    Entry {
        module: "pos_razorpay",
        ops: &[set(
            "Razorpay POS: test mode, placeholder key",
            "pos_payment_method",
            &[
                ("razorpay_test_mode", Bool(true)),
                ("razorpay_api_key", Text("dummykey00012345")),
            ],
        )],
    },
    Entry {
        module: "pos_viva_wallet",
        ops: &[set(
            "Viva Wallet POS terminals to test mode",
            "pos_payment_method",
            &[("viva_wallet_test_mode", Bool(true))],
        )],
    },
];
