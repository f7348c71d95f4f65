from kmp import create_app

app = create_app()
