-- wrk script for the feature-read cross-check of `nudge bench features`:
-- each connection walks the players the bench loaded (bench-features-0 ...).
-- wrk -t2 -c16 -d10s -s .ci/wrk_features.lua http://127.0.0.1:PORT -- 2000
local players = 2000
local next_player = 0

function init(args)
  players = tonumber(args[1] or players)
  next_player = math.random(0, players - 1)
end

function request()
  local path = "/v1/players/bench-features-" .. next_player .. "/features"
  next_player = (next_player + 1) % players
  return wrk.format("GET", path)
end
