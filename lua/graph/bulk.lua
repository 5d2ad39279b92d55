--- Many requests at once: graph.pipeline runs them concurrently (libcurl
-- multi), each with the single-request treatment (auth, retries, errors);
-- this layer decodes each 2xx into its document, in input order.
local pipeline = require "graph.pipeline"

local M = {}

--- Run `requests` ({ method =, url =, headers =, body =, read_only = })
-- through `client`. A read_only request rides kept connections like a GET.
-- opts: concurrency, family (pacing), on_progress(done, total).
-- Returns an array in input order of { doc =, response = } or { err = }.
function M.run(client, requests, opts)
  local records = {}
  for i, r in ipairs(requests) do
    records[i] = { method = r.method, url = r.url, headers = r.headers, body = r.body,
                   fresh = not (r.method == "GET" or r.read_only) }
  end
  local out = pipeline.run(client, records, { concurrency = opts.concurrency, family = opts.family,
                                              on_progress = opts.on_progress })
  local results = {}
  for i, r in ipairs(out) do
    if r.err then
      results[i] = { err = r.err }
    else
      local doc, resp = client:document(records[i].method, r.status, r.reason, r.headers, r.body,
                                        r.client_request_id)
      if not doc then resp.attempts = r.attempts end
      results[i] = doc and { doc = doc, response = resp } or { err = resp }
    end
  end
  return results
end

return M
