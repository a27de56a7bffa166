
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's users, teams, memberships and invites (schema 8).  They
 * live in the store only: the zone keeps of them what a token needs (its
 * user and that user's own team), and a request reads its memberships
 * here.  Statements are kept among the connection's prepared ones.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store_sqlite.h"


#define NGX_IOT_USER_COLUMNS                                                  \
    "u.id, u.team_id, u.name, u.email, u.phone, u.avatar_url"


static sqlite3_stmt *ngx_iot_store_teams_sql(ngx_iot_store_t *store,
    const char *sql, const char *what, ngx_log_t *log);
static ngx_int_t ngx_iot_store_teams_rows(ngx_iot_store_t *store,
    sqlite3_stmt *st, void (*row)(sqlite3_stmt *st, void *out), void *out,
    ngx_iot_store_row_pt handler, void *data, const char *what,
    ngx_log_t *log);
static void ngx_iot_store_row_user(sqlite3_stmt *st, void *out);
static void ngx_iot_store_user_at(sqlite3_stmt *st, int col,
    ngx_iot_user_t *u);
static void ngx_iot_store_row_team(sqlite3_stmt *st, void *out);
static void ngx_iot_store_row_membership(sqlite3_stmt *st, void *out);
static void ngx_iot_store_row_invite(sqlite3_stmt *st, void *out);
static void ngx_iot_store_str(sqlite3_stmt *st, int col, ngx_str_t *s);
static ngx_int_t ngx_iot_store_first_user_named(ngx_iot_store_t *store,
    uint64_t id, ngx_log_t *log);


static sqlite3_stmt *
ngx_iot_store_teams_sql(ngx_iot_store_t *store, const char *sql,
    const char *what, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_prepare(store, (u_char *) sql, ngx_strlen(sql));

    if (st == NULL) {
        ngx_iot_store_log_error(store, what, log);
    }

    return st;
}


/* every row of st to handler; NGX_DECLINED when there was none */

static ngx_int_t
ngx_iot_store_teams_rows(ngx_iot_store_t *store, sqlite3_stmt *st,
    void (*row)(sqlite3_stmt *st, void *out), void *out,
    ngx_iot_store_row_pt handler, void *data, const char *what,
    ngx_log_t *log)
{
    int         rc;
    ngx_int_t   hrc, found;

    found = 0;

    for ( ;; ) {
        rc = sqlite3_step(st);

        if (rc == SQLITE_DONE) {
            break;
        }

        if (rc != SQLITE_ROW) {
            ngx_iot_store_log_error(store, what, log);
            sqlite3_reset(st);
            return NGX_ERROR;
        }

        found = 1;
        row(st, out);

        hrc = handler(out, data);

        if (hrc == NGX_ERROR) {
            sqlite3_reset(st);
            return NGX_ERROR;
        }

        if (hrc == NGX_DONE) {
            break;
        }
    }

    sqlite3_reset(st);

    return found ? NGX_OK : NGX_DECLINED;
}


static void
ngx_iot_store_str(sqlite3_stmt *st, int col, ngx_str_t *s)
{
    s->data = (u_char *) sqlite3_column_text(st, col);
    s->len = s->data ? (size_t) sqlite3_column_bytes(st, col) : 0;

    if (s->data == NULL) {
        s->data = (u_char *) "";
    }
}


static void
ngx_iot_store_row_user(sqlite3_stmt *st, void *out)
{
    ngx_iot_store_user_at(st, 0, out);
}


static void
ngx_iot_store_user_at(sqlite3_stmt *st, int col, ngx_iot_user_t *u)
{
    u->id = (uint64_t) sqlite3_column_int64(st, col);
    u->team_id = (uint64_t) sqlite3_column_int64(st, col + 1);
    ngx_iot_store_str(st, col + 2, &u->name);
    ngx_iot_store_str(st, col + 3, &u->email);
    ngx_iot_store_str(st, col + 4, &u->phone);
    ngx_iot_store_str(st, col + 5, &u->avatar_url);
}


static void
ngx_iot_store_row_team(sqlite3_stmt *st, void *out)
{
    ngx_iot_team_t  *t = out;

    ngx_str_t  s;

    ngx_memzero(t, sizeof(ngx_iot_team_t));

    t->id = (uint64_t) sqlite3_column_int64(st, 0);
    ngx_iot_store_str(st, 1, &s);
    (void) ngx_iot_uuid_decode(s.data, s.len, t->uuid);
    t->owner = (uint64_t) sqlite3_column_int64(st, 2);
    ngx_iot_store_str(st, 3, &t->tags);
}


static void
ngx_iot_store_row_membership(sqlite3_stmt *st, void *out)
{
    ngx_iot_membership_t  *m = out;

    m->team_id = (uint64_t) sqlite3_column_int64(st, 0);
    m->role = sqlite3_column_int(st, 1) ? NGX_IOT_ROLE_ADMIN
                                        : NGX_IOT_ROLE_MEMBER;

    if (sqlite3_column_count(st) > 2) {
        ngx_iot_store_user_at(st, 2, &m->user);

    } else {
        ngx_memzero(&m->user, sizeof(ngx_iot_user_t));
    }
}


static void
ngx_iot_store_row_invite(sqlite3_stmt *st, void *out)
{
    ngx_iot_invite_t  *inv = out;

    ngx_str_t  s;

    ngx_memzero(inv, sizeof(ngx_iot_invite_t));

    ngx_iot_store_str(st, 0, &s);
    ngx_memcpy(inv->code, s.data, ngx_min(s.len, NGX_IOT_INVITE_LEN));
    inv->team_id = (uint64_t) sqlite3_column_int64(st, 1);
    inv->created_at = (uint64_t) sqlite3_column_int64(st, 2);
}


/*
 * The installation's first user: made at first start with the first
 * team (its own), and at the first start with schema 8 for a store
 * made before, whose tokens and collections then belong to it.
 */

ngx_int_t
ngx_iot_store_first_user(ngx_iot_store_t *store, uint64_t team_id,
    uint64_t *user_id, ngx_log_t *log)
{
    int            rc;
    uint64_t       id;
    sqlite3_stmt  *st;

    /* the installation's own row names it; or the user of its team */

    if (sqlite3_prepare_v2(store->db,
                           "SELECT coalesce(nullif(i.user_id, 0), u.id, 0)"
                           " FROM installation i"
                           " LEFT JOIN users u ON u.team_id = i.team_id",
                           -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "reading the first user", log);
        return NGX_ERROR;
    }

    rc = sqlite3_step(st);
    id = (rc == SQLITE_ROW) ? (uint64_t) sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "reading the first user", log);
        return NGX_ERROR;
    }

    if (id) {
        *user_id = id;
        return ngx_iot_store_first_user_named(store, id, log);
    }

    id = ngx_iot_id_new();

    if (sqlite3_prepare_v2(store->db,
                           "INSERT INTO users (id, team_id, name, created_at)"
                           " VALUES (?1, ?2, 'admin', ?3);"
                           , -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "making the first user", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) team_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) ngx_iot_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "making the first user", log);
        return NGX_ERROR;
    }

    if (sqlite3_prepare_v2(store->db,
                           "INSERT OR REPLACE INTO team_members"
                           " (team_id, user_id, role) VALUES (?1, ?2, 1)",
                           -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "making the first user", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) team_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "making the first user", log);
        return NGX_ERROR;
    }

    *user_id = id;

    return ngx_iot_store_first_user_named(store, id, log);
}


static ngx_int_t
ngx_iot_store_first_user_named(ngx_iot_store_t *store, uint64_t id,
    ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    if (sqlite3_prepare_v2(store->db,
                           "UPDATE installation SET user_id = ?1"
                           " WHERE id = 1 AND user_id != ?1",
                           -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "naming the first user", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "naming the first user", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_token_user(ngx_iot_store_t *store, u_char *hash,
    uint64_t user_id, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "INSERT OR REPLACE INTO token_users (hash, user_id)"
             " VALUES (?1, ?2)", "writing a token's user", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_blob(st, 1, hash, NGX_IOT_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) user_id);

    return ngx_iot_store_step(store, st, "writing a token's user", log);
}


/* the teams a user is a member of: rows of ngx_iot_membership_t */

ngx_int_t
ngx_iot_store_memberships(ngx_iot_store_t *store, uint64_t user_id,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    sqlite3_stmt          *st;
    ngx_iot_membership_t   m;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_MEMBERSHIPS);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading memberships", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) user_id);

    return ngx_iot_store_teams_rows(store, st, ngx_iot_store_row_membership,
                                    &m, handler, data, "reading memberships",
                                    log);
}


/* a team by its id, or (id 0) by its UUID */

ngx_int_t
ngx_iot_store_team_find(ngx_iot_store_t *store, uint64_t id, u_char *uuid,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    u_char          text[NGX_IOT_UUID_LEN];
    sqlite3_stmt   *st;
    ngx_iot_team_t  t;

    if (id) {
        st = ngx_iot_store_teams_sql(store,
                 "SELECT t.id, t.uuid, coalesce(u.id, 0), t.tags FROM teams t"
                 " LEFT JOIN users u ON u.team_id = t.id WHERE t.id = ?1",
                 "reading a team", log);
        if (st == NULL) {
            return NGX_ERROR;
        }

        sqlite3_bind_int64(st, 1, (sqlite3_int64) id);

    } else {
        st = ngx_iot_store_teams_sql(store,
                 "SELECT t.id, t.uuid, coalesce(u.id, 0), t.tags FROM teams t"
                 " LEFT JOIN users u ON u.team_id = t.id WHERE t.uuid = ?1",
                 "reading a team", log);
        if (st == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_iot_uuid_encode(text, uuid);
        sqlite3_bind_text(st, 1, (char *) text, NGX_IOT_UUID_LEN,
                          SQLITE_TRANSIENT);
    }

    return ngx_iot_store_teams_rows(store, st, ngx_iot_store_row_team, &t,
                                    handler, data, "reading a team", log);
}


/* a team's members (user_id 0: all of them) with their users */

ngx_int_t
ngx_iot_store_team_members(ngx_iot_store_t *store, uint64_t team_id,
    uint64_t user_id, ngx_iot_store_row_pt handler, void *data,
    ngx_log_t *log)
{
    sqlite3_stmt          *st;
    ngx_iot_membership_t   m;

    st = ngx_iot_store_teams_sql(store,
             "SELECT m.team_id, m.role, " NGX_IOT_USER_COLUMNS
             " FROM team_members m JOIN users u ON u.id = m.user_id"
             " WHERE m.team_id = ?1 AND (?2 = 0 OR m.user_id = ?2)"
             " ORDER BY m.user_id", "reading a team's members", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) team_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) user_id);

    return ngx_iot_store_teams_rows(store, st, ngx_iot_store_row_membership,
                                    &m, handler, data,
                                    "reading a team's members", log);
}


ngx_int_t
ngx_iot_store_user_find(ngx_iot_store_t *store, uint64_t id,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    sqlite3_stmt    *st;
    ngx_iot_user_t   u;

    st = ngx_iot_store_teams_sql(store,
             "SELECT " NGX_IOT_USER_COLUMNS " FROM users u WHERE u.id = ?1",
             "reading a user", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);

    return ngx_iot_store_teams_rows(store, st, ngx_iot_store_row_user, &u,
                                    handler, data, "reading a user", log);
}


ngx_int_t
ngx_iot_store_users(ngx_iot_store_t *store, ngx_iot_store_row_pt handler,
    void *data, ngx_log_t *log)
{
    sqlite3_stmt    *st;
    ngx_iot_user_t   u;

    st = ngx_iot_store_teams_sql(store,
             "SELECT " NGX_IOT_USER_COLUMNS " FROM users u ORDER BY u.id",
             "reading users", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    return ngx_iot_store_teams_rows(store, st, ngx_iot_store_row_user, &u,
                                    handler, data, "reading users", log);
}


/* a team's invites, or (code not NULL) the invite of that code */

ngx_int_t
ngx_iot_store_invites(ngx_iot_store_t *store, uint64_t team_id, u_char *code,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    sqlite3_stmt      *st;
    ngx_iot_invite_t   inv;

    if (code) {
        st = ngx_iot_store_teams_sql(store,
                 "SELECT code, team_id, created_at FROM invites"
                 " WHERE code = ?1 AND (?2 = 0 OR team_id = ?2)",
                 "reading an invite", log);
        if (st == NULL) {
            return NGX_ERROR;
        }

        sqlite3_bind_text(st, 1, (char *) code, NGX_IOT_INVITE_LEN,
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) team_id);

    } else {
        st = ngx_iot_store_teams_sql(store,
                 "SELECT code, team_id, created_at FROM invites"
                 " WHERE team_id = ?1 ORDER BY created_at, code",
                 "reading invites", log);
        if (st == NULL) {
            return NGX_ERROR;
        }

        sqlite3_bind_int64(st, 1, (sqlite3_int64) team_id);
    }

    return ngx_iot_store_teams_rows(store, st, ngx_iot_store_row_invite, &inv,
                                    handler, data, "reading invites", log);
}


ngx_int_t
ngx_iot_store_team_collections(ngx_iot_store_t *store, uint64_t team_id,
    ngx_uint_t *n, ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "SELECT count(*) FROM collections WHERE team_id = ?1",
             "counting a team's collections", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) team_id);

    rc = sqlite3_step(st);

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "counting a team's collections", log);
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    *n = (ngx_uint_t) sqlite3_column_int64(st, 0);
    sqlite3_reset(st);

    return NGX_OK;
}


/* a user, its own team, and its membership (Admin) of it */

ngx_int_t
ngx_iot_store_user_add(ngx_iot_store_t *store, ngx_iot_user_t *u,
    u_char *team_uuid, ngx_log_t *log)
{
    u_char          text[NGX_IOT_UUID_LEN];
    sqlite3_stmt   *st;

    st = ngx_iot_store_teams_sql(store,
             "INSERT INTO teams (id, uuid) VALUES (?1, ?2)",
             "adding a team", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_iot_uuid_encode(text, team_uuid);
    sqlite3_bind_int64(st, 1, (sqlite3_int64) u->team_id);
    sqlite3_bind_text(st, 2, (char *) text, NGX_IOT_UUID_LEN,
                      SQLITE_TRANSIENT);

    if (ngx_iot_store_step(store, st, "adding a team", log) != NGX_OK) {
        return NGX_ERROR;
    }

    st = ngx_iot_store_teams_sql(store,
             "INSERT INTO users (id, team_id, name, email, phone, avatar_url,"
             " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
             "adding a user", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) u->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) u->team_id);
    sqlite3_bind_text(st, 3, (char *) u->name.data, u->name.len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, (char *) u->email.data, u->email.len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, (char *) u->phone.data, u->phone.len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, (char *) u->avatar_url.data, u->avatar_url.len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, (sqlite3_int64) ngx_iot_now_ms());

    if (ngx_iot_store_step(store, st, "adding a user", log) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_iot_store_team_member_put(store, u->team_id, u->id,
                                    NGX_IOT_ROLE_ADMIN, log);
}


/* a team and its creator, its Admin */

ngx_int_t
ngx_iot_store_team_add(ngx_iot_store_t *store, ngx_iot_team_t *t,
    uint64_t creator, ngx_log_t *log)
{
    u_char         text[NGX_IOT_UUID_LEN];
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "INSERT INTO teams (id, uuid, tags) VALUES (?1, ?2, ?3)",
             "adding a team", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_iot_uuid_encode(text, t->uuid);
    sqlite3_bind_int64(st, 1, (sqlite3_int64) t->id);
    sqlite3_bind_text(st, 2, (char *) text, NGX_IOT_UUID_LEN,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, (char *) t->tags.data, t->tags.len,
                      SQLITE_TRANSIENT);

    if (ngx_iot_store_step(store, st, "adding a team", log) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_iot_store_team_member_put(store, t->id, creator,
                                         NGX_IOT_ROLE_ADMIN, log);
}


ngx_int_t
ngx_iot_store_team_tags(ngx_iot_store_t *store, uint64_t id, ngx_str_t *tags,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "UPDATE teams SET tags = ?2 WHERE id = ?1",
             "changing a team", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
    sqlite3_bind_text(st, 2, (char *) tags->data, tags->len,
                      SQLITE_TRANSIENT);

    return ngx_iot_store_step(store, st, "changing a team", log);
}


/* a team, its memberships and its invites */

ngx_int_t
ngx_iot_store_team_delete(ngx_iot_store_t *store, uint64_t id,
    ngx_log_t *log)
{
    ngx_uint_t     i;
    sqlite3_stmt  *st;

    static const char  *sql[] = {
        "DELETE FROM invites WHERE team_id = ?1",
        "DELETE FROM team_members WHERE team_id = ?1",
        "DELETE FROM teams WHERE id = ?1"
    };

    for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        st = ngx_iot_store_teams_sql(store, sql[i], "deleting a team", log);
        if (st == NULL) {
            return NGX_ERROR;
        }

        sqlite3_bind_int64(st, 1, (sqlite3_int64) id);

        if (ngx_iot_store_step(store, st, "deleting a team", log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_team_member_put(ngx_iot_store_t *store, uint64_t team_id,
    uint64_t user_id, ngx_uint_t role, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "INSERT OR REPLACE INTO team_members (team_id, user_id, role)"
             " VALUES (?1, ?2, ?3)", "writing a membership", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) team_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) user_id);
    sqlite3_bind_int(st, 3, role == NGX_IOT_ROLE_ADMIN);

    return ngx_iot_store_step(store, st, "writing a membership", log);
}


ngx_int_t
ngx_iot_store_team_member_delete(ngx_iot_store_t *store,
    uint64_t team_id,
    uint64_t user_id, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2",
             "deleting a membership", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) team_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) user_id);

    return ngx_iot_store_step(store, st, "deleting a membership", log);
}


ngx_int_t
ngx_iot_store_invite_add(ngx_iot_store_t *store, ngx_iot_invite_t *inv,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "INSERT INTO invites (code, team_id, created_at)"
             " VALUES (?1, ?2, ?3)", "adding an invite", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_text(st, 1, (char *) inv->code, NGX_IOT_INVITE_LEN,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) inv->team_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) inv->created_at);

    return ngx_iot_store_step(store, st, "adding an invite", log);
}


ngx_int_t
ngx_iot_store_invite_delete(ngx_iot_store_t *store, u_char *code,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_teams_sql(store,
             "DELETE FROM invites WHERE code = ?1", "deleting an invite",
             log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_text(st, 1, (char *) code, NGX_IOT_INVITE_LEN,
                      SQLITE_TRANSIENT);

    return ngx_iot_store_step(store, st, "deleting an invite", log);
}
