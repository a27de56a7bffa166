
/*
 * Copyright (C) nginx-iot authors
 *
 * Device groups and their memberships (ngx_iot_groups.c).  A group
 * belongs to one collection and takes only devices of that collection; a
 * device is in any number of them.  A device that moves to another
 * collection leaves its groups; deleting a device or a group deletes its
 * memberships.
 */


#ifndef _NGX_IOT_GROUPS_H_INCLUDED_
#define _NGX_IOT_GROUPS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_registry.h"


/* by id or by UUID (uuid != NULL) */
ngx_iot_rc_e ngx_iot_group_get(ngx_cycle_t *cycle, uint64_t id,
    u_char *uuid, ngx_pool_t *pool, ngx_iot_group_t *out);

ngx_iot_rc_e ngx_iot_group_create(ngx_cycle_t *cycle,
    ngx_iot_group_change_t *ch, ngx_pool_t *pool, ngx_iot_group_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait);
/* its name and description (its collection does not change) */
ngx_iot_rc_e ngx_iot_group_update(ngx_cycle_t *cycle, uint64_t id,
    ngx_iot_group_change_t *ch, ngx_pool_t *pool, ngx_iot_group_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_group_delete(ngx_cycle_t *cycle, uint64_t id,
    ngx_log_t *log, ngx_iot_wait_t *wait);

ngx_iot_rc_e ngx_iot_member_get(ngx_cycle_t *cycle, uint64_t group_id,
    uint64_t device_id, ngx_iot_member_t *out);
/*
 * NGX_IOT_NOT_FOUND: no such group or device; NGX_IOT_OTHER_COLLECTION:
 * the device is not of the group's collection; NGX_IOT_EXISTS: a member
 * already.
 */
ngx_iot_rc_e ngx_iot_member_add(ngx_cycle_t *cycle, uint64_t group_id,
    uint64_t device_id, u_char *by, ngx_iot_member_t *out, ngx_log_t *log,
    ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_member_remove(ngx_cycle_t *cycle, uint64_t group_id,
    uint64_t device_id, ngx_log_t *log, ngx_iot_wait_t *wait);


#endif /* _NGX_IOT_GROUPS_H_INCLUDED_ */
