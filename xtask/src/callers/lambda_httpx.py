"""Calls a function under the local Lambda service the way the Python seed's client does:
lambda-httpx's `AsyncLambdaTransport` (httpx over aioboto3, `http+lambda://function/path`), its
aioboto3 client pointed at the service with test credentials.

Usage: python3 lambda_httpx.py ENDPOINT FUNCTION < plan.json (or python3 -c "$SCRIPT" ...)
plan: {"requests": [{"name", "method", "path", "json"?, "params"?, "headers"?}],
       "concurrent": ["/path", ...]}
Prints {"<name>": outcome, ..., "concurrent": [outcome, ...]} as one JSON line.
"""
import asyncio
import json
import sys

import aioboto3
import httpx
from lambda_httpx import AsyncLambdaTransport

ENDPOINT, FUNCTION = sys.argv[1], sys.argv[2]


class LocalTransport(AsyncLambdaTransport):
    async def __aenter__(self):
        self.boto_session = aioboto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=self.region
        )
        self.lambda_client = self.boto_session.client(
            "lambda", region_name=self.region, endpoint_url=ENDPOINT
        )
        self.lambda_client_context = await self.lambda_client.__aenter__()
        return self


def outcome(response):
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return {
        "status": response.status_code,
        "content_type": response.headers.get("content-type"),
        "request_id": response.headers.get("x-request-id"),
        "location": response.headers.get("location"),
        "body": body,
    }


async def main():
    plan = json.load(sys.stdin)
    base = f"http+lambda://{FUNCTION}"
    results = {}
    async with httpx.AsyncClient(transport=LocalTransport(region="us-east-1")) as client:
        for r in plan.get("requests", []):
            response = await client.request(
                r["method"],
                base + r["path"],
                json=r.get("json"),
                params=r.get("params"),
                headers=r.get("headers"),
            )
            results[r["name"]] = outcome(response)
        paths = plan.get("concurrent", [])
        responses = await asyncio.gather(*(client.get(base + p) for p in paths))
        results["concurrent"] = [outcome(r) for r in responses]
    print(json.dumps(results))


asyncio.run(main())
