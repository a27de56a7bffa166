#!/usr/bin/perl

# A write larger than what SQLite keeps of its statement journal in memory
# (ngx_iot_store_configure(): 124 KB) goes on in a temporary file: the
# migration of schema 20 copies the iotda parts of 300 devices, each with
# an extension_info of 900 bytes, into a table without indexes on their
# ids and drops the old one, well over 128 KB of journal in one
# transaction.  (With a piece of 128 KB or more, that file's first write
# failed as "database or disk is full" and nginx did not start.)  After
# it every device is there as it was, and the registry still refuses a
# device_id or node_id that is taken.

use strict;
use warnings;

use Test::More;
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;

my $N = 300;

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS);
$t->start;

sub sql { $t->sql(@_) }

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'large' } });

my $api = IoT::Iotda->new($t, project => $A->{teamId});

my ($s, $j) = $api->call(POST => '/products', body => {
    product_id => 'big', name => 'Big', device_type => 'T',
    protocol_type => 'CoAP', data_format => 'json',
    app_id => $A->{collectionId},
    service_capabilities => [{ service_id => 's' }] });
is($s, 201, 'a product');

my $filler = 'x' x 900;
my $made = 0;

for my $i (1 .. $N) {
    ($s, $j) = $api->call(POST => '/devices', body => {
        node_id => sprintf('large-%04d', $i), product_id => 'big',
        device_name => "large $i",
        extension_info => { n => $i, filler => $filler } });
    $made++ if $s == 201;
}

is($made, $N, "$N devices with 900 bytes of extension_info each");

$t->stop;

# back to schema 19: the parts' table with its unique ids indexed

is(sql('PRAGMA user_version') >= 20, 1, 'the store is at schema 20 or later');
is(sql("SELECT count(*) FROM sqlite_master WHERE type = 'index'"
       . " AND tbl_name = 'iotda_devices'"), 0,
   'the parts have no index but their key');

sql('CREATE TABLE iotda_devices_19 ('
    . ' device INTEGER PRIMARY KEY, device_id TEXT NOT NULL UNIQUE,'
    . ' node_id TEXT UNIQUE, product INTEGER NOT NULL DEFAULT 0,'
    . ' gateway INTEGER NOT NULL DEFAULT 0, depth INTEGER NOT NULL DEFAULT 0,'
    . ' flags INTEGER NOT NULL DEFAULT 0, timeout INTEGER NOT NULL DEFAULT 0,'
    . " doc TEXT NOT NULL DEFAULT '{}', secret TEXT NOT NULL DEFAULT '',"
    . " secondary_secret TEXT NOT NULL DEFAULT '');"
    . ' INSERT INTO iotda_devices_19 SELECT * FROM iotda_devices;'
    . ' DROP TABLE iotda_devices;'
    . ' ALTER TABLE iotda_devices_19 RENAME TO iotda_devices;'
    . ' PRAGMA user_version = 19;');

is(sql("SELECT count(*) FROM sqlite_master WHERE type = 'index'"
       . " AND tbl_name = 'iotda_devices'"), 2, 'a store of schema 19');
cmp_ok(sql('SELECT sum(length(doc)) FROM iotda_devices'), '>', 256 * 1024,
       'its parts take more than 256 KB');

$t->start;

is(sql('PRAGMA user_version') >= 20, 1, 'migrated at start');
is(sql("SELECT count(*) FROM sqlite_master WHERE type = 'index'"
       . " AND tbl_name = 'iotda_devices'"), 0,
   'the unique indexes are gone');
is(sql('SELECT count(*) FROM iotda_devices'), $N, 'every part copied');

my %seen;
my $marker;

for (1 .. 10) {
    ($s, $j) = $api->call(GET => '/devices?limit=50'
                                 . (defined $marker ? "&marker=$marker" : ''));
    last unless $s == 200 && @{ $j->{devices} };

    for my $d (@{ $j->{devices} }) {
        my ($n) = $d->{node_id} =~ /^large-(\d+)$/ or next;
        $seen{$d->{node_id}} = 1 if $d->{device_name} eq 'large ' . ($n + 0);
    }

    $marker = $j->{page}{marker};
    last unless defined $marker;
}

is(scalar keys %seen, $N, 'every device listed with its name');

my $kept = 0;

for my $i (1 .. $N) {
    ($s, $j) = $api->call(GET => sprintf('/devices/big_large-%04d', $i));
    $kept++ if $s == 200 && ref $j->{extension_info} eq 'HASH'
               && ($j->{extension_info}{n} // 0) == $i
               && ($j->{extension_info}{filler} // '') eq $filler;
}

is($kept, $N, 'every device with its extension_info');

($s, $j) = $api->call(GET => '/devices/big_large-0150');
is($s, 200, 'a device found by its device_id');
is($j->{node_id}, 'large-0150', 'with its node_id');

IoT::Iotda::is_iotda_error([$api->call(POST => '/devices', body => {
    node_id => 'large-0007', product_id => 'big' })], 400, 'IOTDA.014031',
    'a node_id that is taken');
IoT::Iotda::is_iotda_error([$api->call(POST => '/devices', body => {
    device_id => 'big_large-0008', node_id => 'another',
    product_id => 'big' })], 400, 'IOTDA.014031', 'a device_id that is taken');

is(sql('SELECT count(*) FROM iotda_devices'), $N, 'and nothing was written');

$t->stop;
done_testing;
