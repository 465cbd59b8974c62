"""The unigate gateway: settings, auth, routing, dispatch, streaming, surfaces, storage, CLI."""
