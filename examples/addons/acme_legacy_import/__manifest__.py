# Not yet ported from 16.0: kept in the tree until the migration lands.
{
    'name': 'Acme Legacy Import',
    'version': '16.0.2.1.0',
    'license': 'OPL-1',
    'depends': ['acme_base', 'account_edi_ubl_cii'],
    'external_dependencies': {'python': ['xlrd'], 'bin': ['pdftotext']},
    'installable': False,
}
