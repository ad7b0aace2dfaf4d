# -*- coding: utf-8 -*-
{
    'name': 'Acme Customer Portal',
    'version': '17.0.1.0.1',
    'category': 'Website/Website',
    'summary': 'Order history, reorder button and invoices for B2B customers',
    'author': 'Acme Trading GmbH',
    'license': 'LGPL-3',
    'depends': [
        'portal',
        'website_sale',
        'acme_sale',
        'web_responsive',
    ],
    'data': [
        'security/ir.model.access.csv',
        'views/portal_templates.xml',
    ],
    'assets': {
        'web.assets_frontend': [
            'acme_portal/static/src/scss/portal.scss',
            'acme_portal/static/src/js/reorder.js',
        ],
    },
    'application': False,
}
