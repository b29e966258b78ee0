"""A request no longer costs the server a listing of moto's package directory.

moto 5.2.5's dispatcher asks whether the request's service is one of moto's modules by listing the
package directory and calling ``os.path.isdir`` on its entries until it meets the name, on every
request (``server_service_names``). Counted in server-side Python calls (``work_meter``) on the
cheapest SQS request there is, whose service name sorts late in the listing.
"""

from __future__ import annotations

import statistics

from .support import MotoServer, calls_of, create_fifo_queue

# Patched: ~1,050 calls for a GetQueueAttributes; stock moto: ~1,760 (the listing is 40 % of it).
MAX_CALLS = 1300


def test_a_request_does_not_list_the_package(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs)
    calls = statistics.median(
        calls_of(server.metered("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))
        for _ in range(3))
    server.expect(calls < MAX_CALLS, f"GetQueueAttributes: {calls:,.0f} server calls")
