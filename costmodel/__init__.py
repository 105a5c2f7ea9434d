"""The cost model: unit prices, measured counts and the scenarios priced from them.

A command-line tool and a report, never on a request's path: nothing in the app imports it.
"""
