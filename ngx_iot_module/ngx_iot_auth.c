
/*
 * Copyright (C) nginx-iot authors
 *
 * The one access check of the core.  An administrator may do anything.
 * Anyone else needs write access to change something, must be a member
 * of the collection's team, and must reach the collection: every
 * collection (of its teams), or one of its set.  What concerns the
 * installation as a whole (collection_id 0) needs every collection.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


ngx_uint_t
ngx_iot_auth_allows(ngx_iot_principal_t *who, uint64_t collection_id,
    ngx_uint_t write)
{
    uint64_t    team;
    ngx_uint_t  i;

    if (who->admin) {
        return 1;
    }

    if (write && !who->write) {
        return 0;
    }

    /*
     * The collection's team: its members only.  A collection that does
     * not exist has none (0); its handler answers that it is not found.
     */

    if (collection_id) {
        team = ngx_iot_collection_team((ngx_cycle_t *) ngx_cycle,
                                       collection_id);

        if (team && ngx_iot_auth_role(who, team) == NGX_DECLINED) {
            return 0;
        }
    }

    if (who->all) {
        return 1;
    }

    if (collection_id == 0) {
        return 0;
    }

    for (i = 0; i < who->ncollections; i++) {
        if (who->collections[i] == collection_id) {
            return 1;
        }
    }

    return 0;
}



ngx_int_t
ngx_iot_auth_role(ngx_iot_principal_t *who, uint64_t team_id)
{
    ngx_uint_t  i;

    /* the user's own team: its one member, and its Admin */

    if (team_id && team_id == who->team_id) {
        return NGX_IOT_ROLE_ADMIN;
    }

    if (ngx_iot_auth_load(who) != NGX_OK) {
        return NGX_DECLINED;
    }

    for (i = 0; i < who->nteams; i++) {
        if (who->teams[i] == team_id) {
            return who->roles[i];
        }
    }

    return NGX_DECLINED;
}
