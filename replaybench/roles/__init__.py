"""The plain classes that generate and measure load; Ray actors only wrap them."""
