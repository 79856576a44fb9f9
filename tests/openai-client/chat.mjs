// Streams one chat completion from megaflow through the official openai
// package, then requests one without streaming, and prints what the client
// received as one JSON line for the Go test to check.
//
// Usage: node chat.mjs BASE_URL   (such as http://127.0.0.1:8000/v1)
import OpenAI from "openai";

const baseURL = process.argv[2];
if (!baseURL) {
  console.error("usage: node chat.mjs BASE_URL");
  process.exit(2);
}

// megaflow's example routes take no key; the client requires one.
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 20_000 });
const messages = [{ role: "user", content: "What is the revenue of Nike in 2023?" }];

const stream = await client.chat.completions.create({
  model: "chatqna",
  messages,
  stream: true,
  max_tokens: 5,
});
let streamed = "";
let chunks = 0;
let finishReason = null;
for await (const chunk of stream) {
  chunks++;
  streamed += chunk.choices[0]?.delta?.content ?? "";
  finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
}

const completion = await client.chat.completions.create({ model: "chatqna", messages, max_tokens: 3 });

console.log(JSON.stringify({
  chunks,
  streamed,
  finish_reason: finishReason,
  object: completion.object,
  content: completion.choices[0].message.content,
  completion_tokens: completion.usage?.completion_tokens,
}));
