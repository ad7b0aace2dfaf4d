{
    # Routes and reordering rules for the two Acme warehouses.
    "name": u"Acme Stock Rules",
    "version": "1.0.3",  # short versions are prefixed with the series by Odoo
    "category": "Inventory/Inventory",
    "author": "Acme Trading GmbH",
    "license": "LGPL-3",
    "depends": ["stock", "purchase_stock", r"acme_base"],
    "external_dependencies": {"python": ["python-dateutil"]},
    "data": [
        "data/stock_route_data.xml",
        "data/ir_cron_data.xml",
        "views/stock_warehouse_orderpoint_views.xml",
    ],
    "installable": True,
}
