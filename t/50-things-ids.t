#!/usr/bin/perl
# The things dialect's ids: every device, collection (projectId) and the
# team (clientId) has a UUID, kept in the store and the same after a
# restart; a store of schema 2 (before UUIDs) gets them at start and keeps
# its data; projectId and clientId are taken as UUIDs or as the
# collections dialect's ids; createdBy names the token's principal.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;

my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS);
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);

# ---- a store of schema 2, as the module wrote it before UUIDs

my $db = $t->dir . '/var/iot.db';
my ($team, $cid, $did, $imsi, $imei) =
    (1234567, 7654321, 1111111, $t->next_imsi, $t->next_imei);
my $v2 = <<"SQL";
CREATE TABLE teams (id INTEGER PRIMARY KEY, tags TEXT NOT NULL DEFAULT '{}');
CREATE TABLE collections (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL,
  field_mask INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '{}');
CREATE TABLE devices (id INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL, imsi TEXT NOT NULL UNIQUE,
  imei TEXT NOT NULL UNIQUE, tags TEXT NOT NULL DEFAULT '{}',
  net_ip TEXT NOT NULL DEFAULT '', net_at INTEGER NOT NULL DEFAULT 0,
  net_cell INTEGER NOT NULL DEFAULT 0);
CREATE INDEX devices_by_collection ON devices (collection_id, id);
CREATE TABLE tokens (hash BLOB PRIMARY KEY, hint TEXT NOT NULL UNIQUE,
  resource TEXT NOT NULL, write INTEGER NOT NULL DEFAULT 0,
  tags TEXT NOT NULL DEFAULT '{}', created_at INTEGER NOT NULL);
ALTER TABLE devices ADD COLUMN net_imeisv TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN net_msisdn TEXT NOT NULL DEFAULT '';
CREATE INDEX devices_by_address ON devices (net_ip) WHERE net_ip != '';
CREATE TABLE sessions (addr TEXT PRIMARY KEY, device_id INTEGER NOT NULL,
  gateway TEXT NOT NULL, session_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL);
INSERT INTO teams (id) VALUES ($team);
INSERT INTO collections (id, team_id, tags) VALUES ($cid, $team,
  '{"n":"old"}');
INSERT INTO devices (id, collection_id, imsi, imei, tags)
  VALUES ($did, $cid, '$imsi', '$imei', '{"name":"old device"}');
PRAGMA user_version=2;
SQL
open my $sq, '|-', "sqlite3 $db" or die "sqlite3: $!";
print $sq $v2;
close $sq;
ok($? == 0, 'a store of schema 2 with a team, a collection and a device');

$t->start;

sub sql {
    my ($q) = @_;
    my $out = `sqlite3 $db "$q" 2>&1`;
    chomp $out;
    return $out;
}

is(sql('PRAGMA user_version') >= 4, 1, 'the store is migrated to schema 4 or later');

# the collections dialect sees the old data as it was
my $ocid = do { my $x = $cid; my $s = ''; for (1 .. 13) {
    $s = substr('0123456789abcdefghijklmnopqrstuv', $x % 32, 1) . $s;
    $x = int($x / 32) } $s };
my ($st, $old) = $col->call(GET => "/collections/$ocid/devices");
is($st, 200, 'the old collection is listed by the collections dialect');
is(scalar @{ $old->{devices} || [] }, 1, 'with its one device');
my $OD = $old->{devices}[0];
is($OD->{imsi}, $imsi, 'IMSI kept');
is($OD->{imei}, $imei, 'IMEI kept');
is_deeply($OD->{tags}, { name => 'old device' }, 'tags kept');

# and the things dialect finds it by its IMEI, with UUIDs
($st, my $T) = $api->call(GET => "/devices/imei:$imei");
is($st, 200, 'the old device by imei: in the things dialect');
like($T->{id}, $UUID_RE, 'it has a UUID');
like($T->{projectId}, $UUID_RE, 'its project has a UUID');
like($T->{clientId}, $UUID_RE, 'its client has a UUID');
is($T->{name}, 'old device', 'its name is tags.name');
like($T->{createdAt}, $TIME_RE, 'createdAt: when it got its UUID');
ok(!exists $T->{createdBy}, 'createdBy: unknown for an old device');

is(sql("SELECT uuid FROM devices WHERE id = $did"), $T->{id},
   'the device UUID is the one in the store');
is(sql("SELECT uuid FROM collections WHERE id = $cid"), $T->{projectId},
   'the collection UUID is the one in the store');
is(sql("SELECT uuid FROM teams WHERE id = $team"), $T->{clientId},
   'the team UUID is the one in the store');

# ---- new entities, then a restart

my $C = $col->create_collection;
$api->{client_id} = $T->{clientId};
my $D1 = $api->create_device($C->{collectionId}, { name => 'by id' });
is($D1->{clientId}, $T->{clientId}, 'the one team is the client of all');
like($D1->{projectId}, $UUID_RE, 'projectId given as a collection id: '
     . 'answered as a UUID');
is(sql("SELECT uuid FROM collections WHERE id = (SELECT collection_id"
       . " FROM devices WHERE uuid = '$D1->{id}')"), $D1->{projectId},
   'that UUID is the collection\'s');

my $D2 = $api->create_device($D1->{projectId}, { name => 'by uuid' });
is($D2->{projectId}, $D1->{projectId}, 'projectId given as a UUID');

$api->{client_id} = $C->{teamId};
my $D3 = $api->create_device(uc $D1->{projectId}, { name => 'upper' });
is($D3->{clientId}, $T->{clientId},
   'clientId given as teamId, projectId as an upper-case UUID');

my $CD = $col->create_device($C->{collectionId}, { tags => { name => 'c' } });
($st, my $CT) = $api->call(GET => "/devices/imei:$CD->{imei}");
is($st, 200, 'a device made in collections has a things id');
like($CT->{id}, $UUID_RE, 'a UUID');
like($CT->{createdBy}, $PRINCIPAL_RE, 'createdBy: the admin principal');
is($CT->{createdBy}, $D1->{createdBy},
   'the same token is the same principal in both dialects');

my $tok = $col->_created('/tokens', { resource => '/', write => JTRUE });
my $D4 = $api->create_device($D1->{projectId}, { name => 'other token' },
                             token => $tok->{token});
like($D4->{createdBy}, $PRINCIPAL_RE, 'another token\'s principal');
isnt($D4->{createdBy}, $D1->{createdBy}, 'another principal');
unlike($D4->{createdBy}, qr/\Q$tok->{token}\E|\Q@{[substr $tok->{token}, 0, 12]}\E/,
       'the principal says nothing of the token');

my %before = map { $_->{id} => $_ } $T, $D1, $D2, $D3, $CT, $D4;

$t->restart;

for my $id (sort keys %before) {
    my ($s, $now) = $api->call(GET => "/devices/$id");
    is($s, 200, "after a restart: $before{$id}{name} by its UUID");
    is_deeply($now, $before{$id}, "after a restart: $before{$id}{name} "
              . 'the same, ids and times included');
}

is(sql('SELECT count(*) FROM teams'), 1, 'still one team');

$t->finish;
done_testing;
