"""The seeds' Python ways of fetching many S3 objects at once, run by `cargo xtask bench
concurrency` against the same S3 server as lamplight: aiobotocore, and aiohttp with SigV4 signed
by hand. Prints one line per approach: `<name> <median seconds per round>`.

Usage: s3_python.py ENDPOINT BUCKET KEYS ROUNDS
"""

import asyncio
import datetime
import hashlib
import hmac
import statistics
import sys
import time
import urllib.parse

ENDPOINT, BUCKET, KEYS, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ACCESS = SECRET = "local"
REGION = "us-east-1"
EMPTY = hashlib.sha256(b"").hexdigest()


def keys():
    return [f"k{i:04}" for i in range(KEYS)]


async def rounds(fetch_all):
    await fetch_all()  # warm-up: connections, credentials
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        await fetch_all()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def with_aiobotocore():
    from aiobotocore.session import get_session
    from botocore.config import Config

    session = get_session()
    config = Config(max_pool_connections=KEYS, s3={"addressing_style": "path"})
    async with session.create_client(
        "s3", endpoint_url=ENDPOINT, region_name=REGION,
        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, config=config,
    ) as s3:
        async def one(key):
            r = await s3.get_object(Bucket=BUCKET, Key=key)
            async with r["Body"] as body:
                return await body.read()

        async def fetch_all():
            await asyncio.gather(*(one(k) for k in keys()))

        return await rounds(fetch_all)


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def headers_for(host, path):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    canonical = "\n".join([
        "GET", urllib.parse.quote(path), "",
        f"host:{host}", f"x-amz-content-sha256:{EMPTY}", f"x-amz-date:{amz_date}", "",
        "host;x-amz-content-sha256;x-amz-date", EMPTY,
    ])
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest(),
    ])
    k = sign(sign(sign(sign(("AWS4" + SECRET).encode(), day), REGION), "s3"), "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "x-amz-date": amz_date,
        "x-amz-content-sha256": EMPTY,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, "
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
    }


async def with_aiohttp():
    import aiohttp

    host = urllib.parse.urlparse(ENDPOINT).netloc
    connector = aiohttp.TCPConnector(limit=KEYS)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def one(key):
            path = f"/{BUCKET}/{key}"
            async with http.get(ENDPOINT + path, headers=headers_for(host, path)) as r:
                r.raise_for_status()
                return await r.read()

        async def fetch_all():
            await asyncio.gather(*(one(k) for k in keys()))

        return await rounds(fetch_all)


for name, approach in [("aiobotocore", with_aiobotocore), ("aiohttp+sigv4", with_aiohttp)]:
    try:
        print(name, asyncio.run(approach()), flush=True)
    except ImportError as e:
        print(f"# {name} skipped: {e}", file=sys.stderr)
