def register_exports(app, hubs, store, settings):
    pass
