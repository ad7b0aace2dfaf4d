# -*- coding: utf-8 -*-
# Copyright 2024 Acme Trading GmbH
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Acme Base",
    "summary": "Company defaults, security groups and the ERP hub connector "
               'shared by every Acme addon',
    "version": "17.0.1.0.0",
    "category": "Hidden",
    "website": "https://github.com/acme-trading/odoo-addons",
    "author": "Acme Trading GmbH, Odoo Community Association (OCA)",
    "maintainers": ["acme-erp"],
    "license": "LGPL-3",
    "application": False,
    "installable": True,
    "depends": [
        "base",
        "mail",
        "contacts",  # partner views
    ],
    "external_dependencies": {
        "python": ["requests", "phonenumbers"],
        "bin": [],
    },
    "data": [
        "security/acme_security.xml",
        "security/ir.model.access.csv",
        "data/ir_config_parameter.xml",
        "views/res_partner_views.xml",
    ],
    "demo": ["demo/res_partner_demo.xml"],
}
