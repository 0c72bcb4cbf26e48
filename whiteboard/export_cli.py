def add_export_command(commands):
    pass
