-- Access-token revocations (changePassword, deleteAccount, logOutEverywhere):
-- tokens of user_id issued before revoked_at are refused. Rows are kept one
-- access-token lifetime, so that an instance starting late learns them; no
-- foreign key, as a deleted account's revocation must outlive the account.
CREATE TABLE token_revocations (
    user_id    text NOT NULL,
    revoked_at timestamptz NOT NULL
);

CREATE INDEX token_revocations_by_time ON token_revocations (revoked_at);
