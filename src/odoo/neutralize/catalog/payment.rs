//! The credential columns each payment provider module of 17.0 Community wipes.

use super::PaymentCredentials;
use super::Val::{Null, Text};

/// Payment providers whose credentials neutralization wipes (17.0 Community).
pub const PAYMENT: &[PaymentCredentials] = &[
    PaymentCredentials {
        module: "payment_adyen",
        code: "adyen",
        columns: &[
            ("adyen_merchant_account", Null),
            ("adyen_api_key", Null),
            ("adyen_hmac_key", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_alipay",
        code: "alipay",
        columns: &[
            ("alipay_merchant_partner_id", Null),
            ("alipay_md5_signature_key", Null),
            ("alipay_seller_email", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_aps",
        code: "aps",
        columns: &[
            ("aps_merchant_identifier", Null),
            ("aps_access_code", Null),
            ("aps_sha_request", Null),
            ("aps_sha_response", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_asiapay",
        code: "asiapay",
        columns: &[
            ("asiapay_merchant_id", Null),
            ("asiapay_secure_hash_secret", Null),
            ("asiapay_secure_hash_function", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_authorize",
        code: "authorize",
        columns: &[
            ("authorize_login", Null),
            ("authorize_transaction_key", Null),
            ("authorize_signature_key", Null),
            ("authorize_client_key", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_buckaroo",
        code: "buckaroo",
        columns: &[
            ("buckaroo_website_key", Null),
            ("buckaroo_secret_key", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_flutterwave",
        code: "flutterwave",
        columns: &[
            ("flutterwave_public_key", Null),
            ("flutterwave_secret_key", Null),
            ("flutterwave_webhook_secret", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_mercado_pago",
        code: "mercado_pago",
        columns: &[("mercado_pago_access_token", Null)],
    },
    PaymentCredentials {
        module: "payment_mollie",
        code: "mollie",
        columns: &[("mollie_api_key", Null)],
    },
    PaymentCredentials {
        module: "payment_ogone",
        code: "ogone",
        columns: &[
            ("ogone_pspid", Null),
            ("ogone_userid", Null),
            ("ogone_password", Null),
            ("ogone_shakey_in", Null),
            ("ogone_shakey_out", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_paypal",
        code: "paypal",
        columns: &[("paypal_email_account", Null), ("paypal_pdt_token", Null)],
    },
    PaymentCredentials {
        module: "payment_payulatam",
        code: "payulatam",
        columns: &[
            ("payulatam_merchant_id", Null),
            ("payulatam_account_id", Null),
            ("payulatam_api_key", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_payumoney",
        code: "payumoney",
        columns: &[
            ("payumoney_merchant_key", Null),
            ("payumoney_merchant_salt", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_razorpay",
        code: "razorpay",
        columns: &[
            ("razorpay_key_id", Null),
            ("razorpay_key_secret", Null),
            ("razorpay_webhook_secret", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_razorpay_oauth",
        code: "razorpay",
        columns: &[
            ("razorpay_public_token", Null),
            ("razorpay_refresh_token", Null),
            ("razorpay_access_token", Null),
            ("razorpay_access_token_expiry", Null),
            ("razorpay_account_id", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_sips",
        code: "sips",
        columns: &[("sips_merchant_id", Null), ("sips_secret", Null)],
    },
    PaymentCredentials {
        module: "payment_stripe",
        code: "stripe",
        columns: &[
            ("stripe_secret_key", Null),
            ("stripe_publishable_key", Null),
            ("stripe_webhook_secret", Null),
        ],
    },
    PaymentCredentials {
        module: "payment_xendit",
        code: "xendit",
        columns: &[
            ("xendit_secret_key", Text("dummysecret")),
            ("xendit_webhook_token", Text("dummytoken")),
        ],
    },
];
