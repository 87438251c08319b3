-- Scenario (d), the write mix: createTodo, then updateTodo of a todo this
-- thread created, then deleteTodo of a todo it updated, round and round, so
-- the data set stays the same size (at most one todo per connection is left
-- over at the end; the bench deletes those).
--   BENCH_WRK_DIR        this folder (for report.lua)
--   BENCH_DIALECT        "graphql" (POST /graphql) or "rest" (the baseline's routes)
--   BENCH_AUTHORIZATION  "Bearer <jwt>"
-- An answer that is not 200 or does not carry the todo's id counts as bad.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local rest = os.getenv("BENCH_DIALECT") == "rest"
local headers = {
  ["Accept"] = "application/json",
  ["Content-Type"] = "application/json",
  ["Authorization"] = os.getenv("BENCH_AUTHORIZATION"),
}
local FIELDS = "{ id name isCompleted createdAt updatedAt }"
local CREATE = "mutation Create($input: CreateTodoInput!) { createTodo(input: $input) " .. FIELDS .. " }"
local UPDATE = "mutation Update($id: ID!) { updateTodo(id: $id, input: {isCompleted: true}) " .. FIELDS .. " }"
local DELETE = "mutation Delete($id: ID!) { deleteTodo(id: $id) { id message } }"

local to_update, to_delete = {}, {}
local created = 0

local function graphql(query, variables)
  return wrk.format("POST", "/graphql", headers,
    '{"query": "' .. query .. '", "variables": ' .. variables .. '}')
end

request = function()
  local id = table.remove(to_delete)
  if id then
    if rest then return wrk.format("DELETE", "/todos/" .. id, headers) end
    return graphql(DELETE, '{"id": "' .. id .. '"}')
  end
  id = table.remove(to_update)
  if id then
    if rest then return wrk.format("PATCH", "/todos/" .. id, headers, '{"isCompleted": true}') end
    return graphql(UPDATE, '{"id": "' .. id .. '"}')
  end
  created = created + 1
  local name = "bench todo " .. created
  if rest then return wrk.format("POST", "/todos", headers, '{"name": "' .. name .. '"}') end
  return graphql(CREATE, '{"input": {"name": "' .. name .. '"}}')
end

response = function(status, headers, body)
  local op, id = string.match(body, '"(%a+)Todo"%s*:%s*{%s*"id"%s*:%s*"([^"]+)"')
  if status ~= 200 or not op then
    bad = bad + 1
  elseif op == "create" then
    table.insert(to_update, id)
  elseif op == "update" then
    table.insert(to_delete, id)
  end
end
