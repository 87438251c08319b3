/**
 * @generated SignedSource<<ea29fb8ef4f395d0b767288bdc8b1988>>
 * @lightSyntaxTransform
 */

/* eslint-disable */

'use strict';

var node = (function(){
var v0 = [
  {
    "defaultValue": null,
    "kind": "LocalArgument",
    "name": "input"
  }
],
v1 = [
  {
    "alias": null,
    "args": [
      {
        "kind": "Variable",
        "name": "input",
        "variableName": "input"
      }
    ],
    "concreteType": "AuthPayload",
    "kind": "LinkedField",
    "name": "createUser",
    "plural": false,
    "selections": [
      {
        "alias": null,
        "args": null,
        "kind": "ScalarField",
        "name": "token",
        "storageKey": null
      },
      {
        "alias": null,
        "args": null,
        "concreteType": "User",
        "kind": "LinkedField",
        "name": "user",
        "plural": false,
        "selections": [
          {
            "alias": null,
            "args": null,
            "kind": "ScalarField",
            "name": "id",
            "storageKey": null
          },
          {
            "alias": null,
            "args": null,
            "kind": "ScalarField",
            "name": "email",
            "storageKey": null
          }
        ],
        "storageKey": null
      }
    ],
    "storageKey": null
  }
];
return {
  "fragment": {
    "argumentDefinitions": (v0/*:: as any*/),
    "kind": "Fragment",
    "metadata": null,
    "name": "TodoListSignUpMutation",
    "selections": (v1/*:: as any*/),
    "type": "Mutation",
    "abstractKey": null
  },
  "kind": "Request",
  "operation": {
    "argumentDefinitions": (v0/*:: as any*/),
    "kind": "Operation",
    "name": "TodoListSignUpMutation",
    "selections": (v1/*:: as any*/)
  },
  "params": {
    "cacheID": "1f0686776c59bcf39a04b69486073425",
    "id": null,
    "metadata": {},
    "name": "TodoListSignUpMutation",
    "operationKind": "mutation",
    "text": "mutation TodoListSignUpMutation(\n  $input: CreateUserInput!\n) {\n  createUser(input: $input) {\n    token\n    user {\n      id\n      email\n    }\n  }\n}\n"
  }
};
})();

node.hash = "82af0d5f053d2a08e0f8275135f85248";

module.exports = node;
