# Copyright 2024 Acme Trading GmbH
# License AGPL-3.0 or later (http://www.gnu.org/licenses/agpl).
{
    'name': 'Acme Sale',
    'summary': '''Quotation templates, credit checks
and the "Acme" sale order workflow''',
    'version': '17.0.1.2.0',
    'category': 'Sales/Sales',
    'author': "Acme Trading GmbH",
    'license': 'AGPL-3',
    'depends': ['sale_management', 'acme_base', 'account',],
    'data': [
        'security/ir.model.access.csv',
        'data/mail_template_data.xml',
        'views/sale_order_views.xml',
        'report/sale_report_templates.xml',
    ],
    'assets': {
        'web.assets_backend': [
            'acme_sale/static/src/js/credit_widget.js',
            'acme_sale/static/src/xml/credit_widget.xml',
            ('include', 'web._assets_helpers'),
        ],
        'web.report_assets_common': ['acme_sale/static/src/scss/report.scss'],
    },
    'installable': True,
    'auto_install': False,
}
