"""The unigate gateway, in packages along the data flow (docs/design.md draws the map):

server -> surfaces -> identity (auth, keys) -> limits -> routing -> dispatch -> pools
-> accounting (metering, ledger, budgets) -> storage. app.py assembles the Litestar app,
gateway.py builds the long-lived parts once, settings.py loads config.toml, cli.py is
`unigate`. A package imports only packages to its right in that line (and schemas,
adapters), never a surface.
"""
