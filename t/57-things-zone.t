#!/usr/bin/perl
# What a device costs in the shared zone, and the UUIDs devices share.
# 15,000 things devices (a device type of four, made by one principal)
# bulk-loaded into the store cost under 256 bytes each in the zone, from
# the start notice's "bytes used" with and without them (docs/store.md,
# "The zone"); their device types and principals, kept once in the zone
# for all the devices that have them, come out right through every
# change: another token's PUT, a device type no other device has, the
# last device of a type deleted and the type used again, a change in the
# collections dialect, a restart.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;

my $N = 15000;

my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS, zone => '64m');
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
my $db = $t->dir . '/var/iot.db';

sub sql {
    my ($q) = @_;
    my $out = `sqlite3 $db "$q" 2>&1`;
    chomp $out;
    return $out;
}

# "loaded N devices ... U of T bytes used": the last such notice
sub used {
    my ($n) = @_;
    my @m = $t->read_log =~ /loaded (\d+) devices.*?; (\d+) of \d+ bytes used/g;
    my %by;
    while (my ($k, $v) = splice @m, 0, 2) { $by{$k} = $v }
    return $by{$n};
}

$t->start;
my $u0 = used(0);
ok(defined $u0, "start notice of an empty store: $u0 bytes used");

my $C = $col->create_collection;
$api->{client_id} = $C->{teamId};
my $D = $api->create_device($C->{collectionId}, { name => 'first' });
my $ADMIN = $D->{createdBy};
like($ADMIN, $PRINCIPAL_RE, 'the admin token\'s principal');
(my $admin_uuid = $ADMIN) =~ s{^principal/}{};
my $P = $D->{projectId};
my ($dst) = $api->call(DELETE => "/devices/$D->{id}");
is($dst, 204, 'that device deleted');
$t->stop;

# ---- 15,000 devices as the things dialect makes them, straight into the store

my $cid = sql('SELECT id FROM collections LIMIT 1');
my $uuid = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'"
         . " || substr(hex(randomblob(2)), 2) || '-8'"
         . " || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";
open my $sq, '|-', "sqlite3 $db" or die "sqlite3: $!";
print $sq <<"SQL";
BEGIN;
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $N)
INSERT INTO devices (id, collection_id, imsi, imei, uuid, created_at,
  modified_at, spec, status, created_by, modified_by)
SELECT 1000000 + n, $cid, printf('24299%010d', n), printf('35299%010d', n),
  $uuid, 1767225600000 + n, 1767225600000 + n,
  '0000000' || (n % 4) || '-0000-4000-8000-000000000000', 1,
  '$admin_uuid', '$admin_uuid' FROM s;
COMMIT;
SQL
close $sq;
ok($? == 0, "$N devices bulk-loaded");

$t->start;
my $un = used($N);
ok(defined $un, "start notice with $N devices: $un bytes used");
my $per = ($un - $u0) / $N;
cmp_ok($per, '<', 256,
       sprintf('%.1f bytes of the zone per device (the device, its index'
               . ' entries and its share of the index arrays)', $per));

# ---- the name the store indexes for a device without one (schema 11: one
# char() call) is its collections id, as schema 7's 13 substr() made it

my $old = join ' || ', map {
    "substr('0123456789abcdefghijklmnopqrstuv', (id >> $_ & 31) + 1, 1)"
} map { 60 - 5 * $_ } 0 .. 12;
my $new = 'char(' . join(', ', map {
    "(id >> $_ & 31) + 48 + (id >> $_ & 31 > 9) * 39"
} map { 60 - 5 * $_ } 0 .. 12) . ')';
is(sql("SELECT count(*) FROM devices WHERE $new = $old"), $N + 0,
   'every device\'s id text: the same by both expressions');
is(sql("WITH RECURSIVE s(n, id) AS (SELECT 1, 1 UNION ALL SELECT n + 1,"
       . " abs(random() % 9223372036854775807) + 1 FROM s WHERE n < 20000)"
       . " SELECT count(*) FROM s WHERE $new = $old"
       . " AND length($new) = 13"), 20000,
   'and for 20,000 random 63-bit ids');
like(sql("SELECT sql FROM sqlite_master WHERE name = 'devices_by_name'"),
     qr/char\(\(id >> 60 & 31\) \+ 48/, 'the name index is schema 11\'s');

# ---- the shared UUIDs of loaded devices

my ($st, $A) = $api->call(GET => '/devices/imei:352990000000001');
is($st, 200, 'a loaded device');
is($A->{deviceSpecificationId}, '00000001-0000-4000-8000-000000000000',
   'its device type');
is($A->{createdBy}, $ADMIN, 'createdBy');
is($A->{modifiedBy}, $ADMIN, 'modifiedBy');

# another token changes it: createdBy stays, modifiedBy and the type change
my $tok = $col->create_token({ resource => '/', write => JTRUE });
my $body = $api->device_body($P, { name => 'changed',
    deviceSpecificationId => '0a0a0a0a-1111-4222-8333-444444444444' });
($st, my $A2) = $api->call(PUT => "/devices/$A->{id}", body => $body,
                           token => $tok->{token});
is($st, 200, 'PUT by another token');
is($A2->{deviceSpecificationId}, '0a0a0a0a-1111-4222-8333-444444444444',
   'a device type no other device has');
is($A2->{createdBy}, $ADMIN, 'createdBy kept');
like($A2->{modifiedBy}, $PRINCIPAL_RE, 'modifiedBy');
isnt($A2->{modifiedBy}, $ADMIN, 'the other token\'s principal');
my $OTHER = $A2->{modifiedBy};

($st, my $B) = $api->call(GET => '/devices/imei:352990000000005');
is($B->{deviceSpecificationId}, '00000001-0000-4000-8000-000000000000',
   'a device of its old type still has it');
is($B->{modifiedBy}, $ADMIN, 'and its own modifiedBy');

# the only device of a type: deleted, the type used again
my $U = '77777777-8888-4999-8aaa-bbbbbbbbbbbb';
my $E = $api->create_device($P, { name => 'alone',
                                  deviceSpecificationId => $U });
is($E->{deviceSpecificationId}, $U, 'a device of a type of its own');
($st) = $api->call(DELETE => "/devices/$E->{id}");
is($st, 204, 'deleted');
my $E2 = $api->create_device($P, { name => 'again',
                                   deviceSpecificationId => $U },
                             token => $tok->{token});
is($E2->{deviceSpecificationId}, $U, 'the type again, on a new device');
is($E2->{createdBy}, $OTHER, 'made by the other token');
($st, my $E3) = $api->call(GET => "/devices/$E2->{id}");
is($E3->{deviceSpecificationId}, $U, 'read back');

# PUT to the type it has and by the same token: nothing shared is lost
($st, my $E4) = $api->call(PUT => "/devices/$E2->{id}",
    body => $api->device_body($P, { name => 'again',
                                    deviceSpecificationId => $U }),
    token => $tok->{token});
is($st, 200, 'PUT with the same type and token');
is($E4->{deviceSpecificationId}, $U, 'the type');
is($E4->{modifiedBy}, $OTHER, 'modifiedBy');

# a change in the collections dialect: modifiedBy is its token's
# (its collections id: the store's id, 13 characters of base32hex)
my $cdid = do { my $x = 1000005; my $s = ''; for (1 .. 13) {
    $s = substr('0123456789abcdefghijklmnopqrstuv', $x % 32, 1) . $s;
    $x = int($x / 32) } $s };
my ($cst) = $col->call(PATCH =>
    "/collections/$C->{collectionId}/devices/$cdid",
    body => { tags => { x => 'y' } }, token => $tok->{token});
is($cst, 200, 'tags changed in the collections dialect');
($st, my $B2) = $api->call(GET => '/devices/imei:352990000000005');
is($B2->{deviceSpecificationId}, '00000001-0000-4000-8000-000000000000',
   'the device type kept');
is($B2->{createdBy}, $ADMIN, 'createdBy kept');
is($B2->{modifiedBy}, $OTHER, 'modifiedBy: the collections token\'s');

# ---- after a restart, all as it was

my %want = map { $_->{id} => $_ } $A2, $E4;
$t->restart;
for my $id (sort keys %want) {
    ($st, my $X) = $api->call(GET => "/devices/$id");
    is($st, 200, "after a restart: $want{$id}{name}");
    is($X->{$_}, $want{$id}{$_}, "  $_")
        for qw(deviceSpecificationId createdBy modifiedBy);
}
($st, my $B3) = $api->call(GET => '/devices/imei:352990000000009');
is($B3->{deviceSpecificationId}, '00000001-0000-4000-8000-000000000000',
   'a loaded device of the shared type');

$t->check_log('after the restart');
$t->finish;
done_testing;
