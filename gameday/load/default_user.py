"""The load a game day sends when the scenario brings no locustfile: GET / as fast as possible.

A FastHttpUser (geventhttpclient) gives about 4x the requests per second of HttpUser on one
core, and no wait time makes every user a closed loop: when the target slows down, so does
the load, and the timeline shows it. The request is named "/" so metrics and results from the
default user always carry the same `name` label.
"""

from locust import FastHttpUser, constant, task


class DefaultUser(FastHttpUser):
    """GET / of the target host in a loop; non-2xx/3xx responses count as failures."""

    wait_time = constant(0)

    @task
    def index(self) -> None:
        self.client.get("/", name="/")
