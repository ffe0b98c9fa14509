"""The live run page (issue 15 §1): `GET /runs`, `GET /runs/{id}` and its live tail of
events over Server-Sent Events, Cancel and Retry as the signed-in person.

`routes()` for the web app; `RunEventHub` is the process's one listening connection and
its fan-out to viewers (app/runpage/hub.py).
"""

from app.runpage.hub import RunEventHub
from app.runpage.routes import routes

__all__ = ["RunEventHub", "routes"]
