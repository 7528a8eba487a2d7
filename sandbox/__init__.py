"""The sandbox AWS account: a local moto server with a seeded fleet and live CloudWatch data.

`sandbox.server.start_sandbox` starts it; `sandbox.metric_generator.expected_value`
says which value any series holds at any minute.
"""
