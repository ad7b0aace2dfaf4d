# Copyright 2016-2017 LasLabs Inc.
# Copyright 2018-2023 Tecnativa - Alexandre Díaz
# License LGPL-3.0 or later (http://www.gnu.org/licenses/lgpl.html).

{
    "name": "Web Responsive",
    "summary": "Responsive web client, community-supported",
    "version": "17.0.1.0.2",
    "category": "Website",
    "website": "https://github.com/OCA/web",
    "author": "LasLabs, Tecnativa, ITerra, Onestein, "
    "Odoo Community Association (OCA)",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["web", "mail"],
    "development_status": "Production/Stable",
    "maintainers": ["Tardo", "SplinterDev"],
    "excludes": ["web_enterprise"],
    "images": ["static/description/issue_1.png"],
    "assets": {
        "web.assets_backend": [
            "/web_responsive/static/src/components/*/*.scss",
            "/web_responsive/static/src/components/*/*.js",
            "/web_responsive/static/src/components/*/*.xml",
            "/web_responsive/static/src/views/**/*.scss",
        ],
        "web.assets_tests": [
            "/web_responsive/static/tests/test_patch.js",
        ],
    },
    "sequence": 1,
}
