from crowdpost.cli import app

app()
