-- wrk script: one new bet a request (`POST /v1/events`, structured mode), ids unique per thread,
-- players p0..p1999. Usage: wrk -t2 -c16 -d10s -s .ci/wrk_ingest.lua --latency http://127.0.0.1:PORT
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local counter = 0
function request()
  counter = counter + 1
  local id = tid .. "-" .. counter
  local body = string.format('{"specversion":"1.0","id":"%s","source":"/casino/wrk","type":"player.bet.placed","subject":"p%d","time":"2026-12-02T05:00:00Z","datacontenttype":"application/json","data":{"bet_id":"%s","game_id":"g1","stake":100,"currency":"EUR"}}', id, counter % 2000, id)
  return wrk.format("POST", "/v1/events", {["Content-Type"]="application/cloudevents+json"}, body)
end
