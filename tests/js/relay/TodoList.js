// The operations relay-compiler reads (`npm run relay` writes __generated__/).
// Not run: with Relay's Babel plugin each graphql`` tag would become an import
// of its artifact; without Babel, the client imports the artifacts itself.
import { graphql } from "relay-runtime";

graphql`
  query TodoListQuery($first: Int, $after: String, $last: Int, $before: String) {
    ...TodoList_query
      @arguments(first: $first, after: $after, last: $last, before: $before)
  }
`;

// --- README: Relay ---
graphql`
  fragment TodoList_query on Query
  @refetchable(queryName: "TodoListPaginationQuery")
  @argumentDefinitions(
    first: { type: "Int" }
    after: { type: "String" }
    last: { type: "Int" }
    before: { type: "String" }
  ) {
    todos(first: $first, after: $after, last: $last, before: $before)
      @connection(key: "TodoList_todos") {
      totalCount
      edges {
        node {
          id
          ...TodoItem_todo
        }
      }
    }
  }
`;

graphql`
  fragment TodoItem_todo on Todo @refetchable(queryName: "TodoItemRefetchQuery") {
    id
    name
    isCompleted
  }
`;
// --- end README ---

graphql`
  mutation TodoListSignUpMutation($input: CreateUserInput!) {
    createUser(input: $input) {
      token
      user {
        id
        email
      }
    }
  }
`;

graphql`
  mutation TodoListCreateMutation($input: CreateTodoInput!, $connections: [ID!]!) {
    createTodo(input: $input) @prependNode(connections: $connections, edgeTypeName: "TodoEdge") {
      id
      ...TodoItem_todo
    }
  }
`;
