
/*
 * Copyright (C) nginx-iot authors
 *
 * Who a request acts as, whatever the dialect and its credentials: an
 * administrator or not, allowed to write or only to read, and which
 * collections it reaches (all of them, or a set).  Each dialect fills a
 * principal from its own credentials; the core answers one question:
 * may this principal do this to this collection?
 */


#ifndef _NGX_IOT_AUTH_H_INCLUDED_
#define _NGX_IOT_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

/* included by ngx_iot.h, after NGX_IOT_HASH_LEN */


typedef struct {
    ngx_uint_t                 admin;
    ngx_uint_t                 write;
    ngx_uint_t                 all;           /* every collection */
    uint64_t                  *collections;   /* else these */
    ngx_uint_t                 ncollections;

    /* a UUID that names the principal in createdBy and the like */
    u_char                     id[16];

    /*
     * The credential's own scope as the dialect that issued it wrote it
     * (an API token's resource); the core never reads it.  A dialect may
     * keep finer rules of its own below the collection with it.
     */
    ngx_str_t                  resource;

    /*
     * The SHA-256 of the credential (an API token, the admin token): the
     * streams of a credential are counted by it.  token: the credential
     * is an API token of the registry, which may change or go while a
     * stream it opened lives; the stream finds it again by its hash.  A
     * dialect that fills a principal by itself sets both.
     */
    u_char                     hash[NGX_IOT_HASH_LEN];
    ngx_uint_t                 token;

    /*
     * The user it acts for (the admin token: the installation's first
     * user), that user's own team, and the teams the user is a member
     * of with its role in each (NGX_IOT_ROLE_*), as the store had them
     * when the request came.  A collection of a team the user is not a
     * member of is out of reach, whatever the credential says.
     */
    uint64_t                   user_id;
    uint64_t                   team_id;
    uint64_t                  *teams;
    u_char                    *roles;
    ngx_uint_t                 nteams;
    ngx_uint_t                 loaded;    /* teams and roles are read */
    ngx_pool_t                *pool;      /* for them */
} ngx_iot_principal_t;


/*
 * May who act on collection_id (0: on the installation as a whole, such
 * as making a collection), writing if write is set?  1 or 0.
 */
ngx_uint_t ngx_iot_auth_allows(ngx_iot_principal_t *who,
    uint64_t collection_id, ngx_uint_t write);

/* who's role in team_id (NGX_IOT_ROLE_*), or NGX_DECLINED: not a member */
ngx_int_t ngx_iot_auth_role(ngx_iot_principal_t *who, uint64_t team_id);

/*
 * ngx_iot_teams.c: who's user's memberships, from the store.  teams
 * prepares who (they are read when first needed, into pool); load reads
 * them (a store that cannot be read: the user's own team only); only
 * makes who act within one team of its user's (NGX_DECLINED: not one).
 */
ngx_int_t ngx_iot_auth_teams(ngx_cycle_t *cycle, ngx_iot_principal_t *who,
    ngx_pool_t *pool);
ngx_int_t ngx_iot_auth_load(ngx_iot_principal_t *who);
ngx_int_t ngx_iot_auth_only(ngx_iot_principal_t *who, uint64_t team);
ngx_int_t ngx_iot_auth_confine(ngx_iot_principal_t *who, uint64_t team,
    ngx_pool_t *pool);


#endif /* _NGX_IOT_AUTH_H_INCLUDED_ */
