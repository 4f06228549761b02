"""The client side of tests/gateway.rs: a stock SDK pointed at
`latchgate bridge` (http://127.0.0.1:PORT), as in seed 001. Prints one JSON
object.

    python sdk_client.py anthropic|openai BASE_URL [API_KEY]

- anthropic: `anthropic.Anthropic(base_url=BASE_URL, api_key=API_KEY)`
  (default API_KEY "gateway-injected", the seed's placeholder) streams
  /v1/messages and notes the CLOCK_MONOTONIC time each text delta arrives.
- openai: `openai.OpenAI(base_url=BASE_URL + "/v1", api_key=...,
  default_headers={"X-Provider": "openai"})` streams chat.completions.
An API error is reported as {"error_status": N, "error_body": ...}.
"""

import json
import sys
import time

PROMPT = [{"role": "user", "content": "Say hello."}]


def run_anthropic(base_url, api_key):
    import anthropic

    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
    texts, arrived = [], []
    try:
        stream = client.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=PROMPT, stream=True
        )
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                arrived.append(time.monotonic())
                texts.append(event.delta.text)
    except anthropic.APIStatusError as e:
        return {"error_status": e.status_code, "error_body": e.response.text}
    return {"text": "".join(texts), "arrived": arrived}


def run_openai(base_url, api_key):
    import openai

    client = openai.OpenAI(
        base_url=base_url + "/v1",
        api_key=api_key,
        default_headers={"X-Provider": "openai"},
        max_retries=0,
    )
    texts, arrived = [], []
    try:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=PROMPT, stream=True
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                arrived.append(time.monotonic())
                texts.append(chunk.choices[0].delta.content)
    except openai.APIStatusError as e:
        return {"error_status": e.status_code, "error_body": e.response.text}
    return {"text": "".join(texts), "arrived": arrived}


def main():
    mode, base_url = sys.argv[1], sys.argv[2]
    api_key = sys.argv[3] if len(sys.argv) > 3 else "gateway-injected"
    run = {"anthropic": run_anthropic, "openai": run_openai}[mode]
    print(json.dumps(run(base_url, api_key)))


if __name__ == "__main__":
    main()
