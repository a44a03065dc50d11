"""The customer portal: the pages every link the desk sends a customer opens.

A front-end like any other: it calls the services' public HTTP APIs and keeps no data of
its own. Server-rendered, in Dutch and English, without JavaScript.
"""
