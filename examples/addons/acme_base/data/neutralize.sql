-- Point the ERP hub connector at its sandbox: a neutralized copy must never push orders or
-- stock moves to the production hub.
UPDATE ir_config_parameter
   SET value = 'https://sandbox.hub.acme-trading.example/api/v2'
 WHERE key = 'acme_base.hub_url';
