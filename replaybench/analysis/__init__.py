"""Reading many runs: compare, history, plan, the HTML report and its charts, interop with other
tools.
"""
