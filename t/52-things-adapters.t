#!/usr/bin/perl
# The things dialect's network adapters: cellular (the device's IMEI),
# lora (DevEUI) and generic (DVN UUID), one per type and device; their
# identifiers unique across the registry and in both dialects; an
# identifier cannot change (the same: 200, another: 400); secrets taken,
# kept in a store only nginx's user may read, never answered or logged;
# bad input as problem details with nothing stored; one project's token
# never reaching another's adapters; all of it after a restart.

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
$t->start;

my $A = $col->create_collection;
my $B = $col->create_collection;
$api->{client_id} = $A->{teamId};
my ($aid, $bid) = ($A->{collectionId}, $B->{collectionId});

my $SECRET  = 'Sx' . ('0123456789abcdefghij' x 2) . 'QQ';   # 44 characters
my $SECRET2 = 'Ty' . ('9876543210ZYXWVUTSRQ' x 2) . 'PP';
my $APPKEY  = '00112233445566778899aabbccddeeff';
my $JOINEUI = '70b3d57ed0000001';
my $DVN  = '5b1a2f7c-4d33-4e7a-9a0b-1c2d3e4f5a6b';
my $DVN2 = '5b1a2f7c-4d33-4e7a-9a0b-1c2d3e4f5a6c';   # the same first 8 bytes
my $EUI  = '0011223344556677';

sub adapters {
    my ($dev, %o) = @_;
    my ($s, $j) = $api->call(GET => "/devices/$dev/network-adapters", %o);
    return $s == 200 ? $j->{items} : "status $s";
}

sub types { [ map { $_->{type} } @{ $_[0] } ] }

# ---- a device of the collections dialect has a cellular adapter

my $CD = $col->create_device($aid, { tags => { name => 'cell' } });
my $cl = adapters("imei:$CD->{imei}");
is_deeply(types($cl), ['cellular'], 'a device with an IMEI has a cellular adapter');
is($cl->[0]{imei}, $CD->{imei}, 'its IMEI is the device\'s');
like($cl->[0]{id}, $UUID_RE, 'an adapter id');
is_deeply(adapters("imei:$CD->{imei}"), $cl, 'the same id each time');
{
    my ($s, $one) = $api->call(GET => "/devices/imei:$CD->{imei}/network-adapters/$cl->[0]{id}");
    is($s, 200, 'GET the adapter by its id');
    is_deeply($one, $cl->[0], 'the same adapter');
}

# ---- a device of the things dialect gets one of each

my $D = $api->create_device($aid, { name => 'three' });
is_deeply(adapters($D->{id}), [], 'a new device has no adapter');

$t->log_mark;

my ($st, $G, $h, $raw) = $api->call(POST => "/devices/$D->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => uc $DVN, sharedSecret => $SECRET });
is($st, 201, 'POST a generic adapter');
is_deeply([ sort keys %$G ], [ sort qw(id type dvnUuid createdAt modifiedAt) ],
          'generic: id, type, dvnUuid, times; no secret');
is($G->{dvnUuid}, $DVN, 'dvnUuid, lower case');
unlike($raw, qr/\Q$SECRET\E/, 'the secret is not answered');

($st, my $L, undef, $raw) = $api->call(POST => "/devices/$D->{id}/network-adapters",
    body => { type => 'lora', devEui => uc $EUI, joinEui => $JOINEUI,
              appKey => $APPKEY });
is($st, 201, 'POST a LoRa adapter');
is_deeply([ sort keys %$L ], [ sort qw(id type devEui createdAt modifiedAt) ],
          'lora: id, type, devEui, times; no JoinEUI, no AppKey');
is($L->{devEui}, $EUI, 'devEui, lower case');
unlike($raw, qr/\Q$APPKEY\E|\Q$JOINEUI\E/i, 'no key answered');

my $IMEI = $t->next_imei;
($st, my $CE) = $api->call(POST => "/devices/$D->{id}/network-adapters",
    body => { type => 'cellular', imei => $IMEI, iccid => '8931000000000000001',
              sharedSecret => $SECRET2 });
is($st, 201, 'POST a cellular adapter');
is_deeply([ sort keys %$CE ],
          [ sort qw(id type imei iccid createdAt modifiedAt) ],
          'cellular: id, type, imei, iccid, times; no secret');

my $all = adapters($D->{id});
is_deeply(types($all), [qw(cellular lora generic)], 'three adapters');
{
    my ($s, $j) = $api->call(GET => "/devices/$D->{id}/network-adapters?type=lora");
    is_deeply(types($j->{items}), ['lora'], '?type=lora');
    ($s, $j) = $api->call(GET => "/devices/$D->{id}/network-adapters?type=generic");
    is_deeply(types($j->{items}), ['generic'], '?type=generic');
    is_problem([ $api->call(GET => "/devices/$D->{id}/network-adapters?type=wifi") ],
               400, '?type=wifi');
}

# the adapters make the device reachable by their identifiers
for my $form ("deveui:$EUI", 'DEVEUI:' . uc($EUI), "urn:dev:deveui:$EUI:",
              "dvnuuid:$DVN", 'dvnuuid:' . uc($DVN), "urn:dev:dvnuuid:$DVN",
              "imei:$IMEI", "urn:dev:imei:$IMEI")
{
    my ($s, $j) = $api->call(GET => "/devices/$form");
    is($s, 200, "GET /devices/$form");
    is($j->{id}, $D->{id}, "$form: the device");
}
is_problem([ $api->call(GET => "/devices/dvnuuid:$DVN2") ], 404,
           'a DVN UUID that shares its first 8 bytes: not that device');

# and in the collections dialect, the cellular adapter is the IMEI
{
    my ($s, $l) = $col->call(GET => "/collections/$aid/devices");
    my ($c) = grep { ($_->{tags}{name} // '') eq 'three' } @{ $l->{devices} };
    is($c->{imei}, $IMEI, 'the collections dialect shows the adapter\'s IMEI');
}

# the secrets: in the store, nowhere else
{
    my $db = $t->dir . '/var/iot.db';
    my $rows = `sqlite3 $db "SELECT type, secret, join_eui FROM adapters ORDER BY type" 2>&1`;
    like($rows, qr/\Q$SECRET2\E/, 'the cellular secret is kept');
    like($rows, qr/\Q$APPKEY\E/i, 'the AppKey is kept');
    like($rows, qr/\Q$JOINEUI\E/i, 'the JoinEUI is kept');
    like($rows, qr/\Q$SECRET\E/, 'the generic secret is kept');
    for my $f ('', '-wal', '-shm') {
        next unless -e "$db$f";
        my $mode = (stat "$db$f")[2] & 07777;
        is($mode & 077, 0, "iot.db$f is not readable by others")
            or diag(sprintf '%o', $mode);
    }
    my $log = $t->log_slice;
    unlike($log, qr/\Q$SECRET\E|\Q$SECRET2\E|\Q$APPKEY\E|\Q$JOINEUI\E/i,
           'no secret in the error log (debug level)');
    unlike(join('', map { $_->{raw} // '' }
                $api->req(GET => "/devices/$D->{id}/network-adapters")),
           qr/\Q$SECRET\E|\Q$SECRET2\E|\Q$APPKEY\E|\Q$JOINEUI\E/i,
           'no secret in a list');
}

# ---- one per type; identifiers unique across the registry

is_problem([ $api->call(POST => "/devices/$D->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN2, sharedSecret => $SECRET }) ],
    409, 'a second generic adapter', qr/already/);
is_problem([ $api->call(POST => "/devices/imei:$CD->{imei}/network-adapters",
    body => { type => 'cellular', imei => $t->next_imei }) ],
    409, 'a second cellular adapter (the IMEI is one)', qr/already/);

my $E = $api->create_device($aid, { name => 'other' });
is_problem([ $api->call(POST => "/devices/$E->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN, sharedSecret => $SECRET }) ],
    409, 'another device\'s DVN UUID', qr/dvnUuid/);
is_problem([ $api->call(POST => "/devices/$E->{id}/network-adapters",
    body => { type => 'lora', devEui => $EUI }) ],
    409, 'another device\'s DevEUI', qr/devEui/);
is_problem([ $api->call(POST => "/devices/$E->{id}/network-adapters",
    body => { type => 'cellular', imei => $CD->{imei} }) ],
    409, 'the IMEI of a device of the collections dialect', qr/imei/i);
is_error([ $col->call(POST => "/collections/$aid/devices",
    body => { imsi => $t->next_imsi, imei => $IMEI }) ], 409,
    'the collections dialect: an adapter\'s IMEI is taken', qr/imei/i);
($st, my $G2) = $api->call(POST => "/devices/$E->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN2, sharedSecret => $SECRET });
is($st, 201, 'a DVN UUID that shares the first 8 bytes is another one');
is_deeply(adapters($E->{id}), [ $G2 ], 'the other device has it');

# ---- PUT: the identifier cannot change

{
    my $url = "/devices/$D->{id}/network-adapters/$G->{id}";
    my ($s, $j) = $api->call(PUT => $url,
                             body => { type => 'generic', dvnUuid => $DVN });
    is($s, 200, 'PUT with the same DVN UUID');
    is_deeply($j, $G, 'a no-op: the adapter as it was');
    is_problem([ $api->call(PUT => $url,
                 body => { type => 'generic', dvnUuid => $DVN2 }) ], 400,
               'PUT with another DVN UUID', qr/cannot change/);
    is_problem([ $api->call(PUT => $url,
                 body => { type => 'lora', devEui => $EUI }) ], 400,
               'PUT with another type', qr/type/);
    ($s, $j) = $api->call(PUT => $url, body => { type => 'generic',
        dvnUuid => $DVN, sharedSecret => $SECRET2 });
    is($s, 200, 'PUT with a new secret');
    my $db = $t->dir . '/var/iot.db';
    like(`sqlite3 $db "SELECT secret FROM adapters WHERE type = 3 AND ident = '$DVN'"`,
         qr/^\Q$SECRET2\E$/m, 'the new secret is kept');

    $url = "/devices/$D->{id}/network-adapters/$CE->{id}";
    ($s, $j) = $api->call(PUT => $url, body => { type => 'cellular',
        imei => $IMEI, iccid => '8931000000000000002' });
    is($s, 200, 'PUT with a new ICCID');
    is($j->{iccid}, '8931000000000000002', 'the ICCID changed');
    ($s, $j) = $api->call(PUT => $url, body => { type => 'cellular',
        imei => $IMEI });
    ok(!exists $j->{iccid}, 'a full update: the ICCID left out is gone');
    is_problem([ $api->call(PUT => $url, body => { type => 'cellular',
        imei => $t->next_imei }) ], 400, 'PUT with another IMEI',
        qr/cannot change/);

    # the cellular adapter of a collections device takes an ICCID
    my $cu = "/devices/imei:$CD->{imei}/network-adapters/$cl->[0]{id}";
    ($s, $j) = $api->call(PUT => $cu, body => { type => 'cellular',
        imei => $CD->{imei}, iccid => '893100000000000000' });
    is($s, 200, 'PUT on an IMEI\'s adapter');
    is($j->{id}, $cl->[0]{id}, 'the same adapter');
    is($j->{iccid}, '893100000000000000', 'now with an ICCID');

    is_problem([ $api->call(PUT => "/devices/$E->{id}/network-adapters/$L->{id}",
        body => { type => 'lora', devEui => $EUI }) ], 404,
        'another device\'s adapter id is not this device\'s');
    is_problem([ $api->call(PUT => "/devices/$D->{id}/network-adapters/nope",
        body => { type => 'lora', devEui => $EUI }) ], 400,
        'an adapter id that is no UUID');
}

# ---- bad input: nothing stored

my $before = adapters($E->{id});
for my $b (
    [ 'no type',          { dvnUuid => $DVN } ],
    [ 'unknown type',     { type => 'wifi' } ],
    [ 'no imei',          { type => 'cellular' } ],
    [ 'short imei',       { type => 'cellular', imei => '12345' } ],
    [ 'imei letters',     { type => 'cellular', imei => '35265000000000a' } ],
    [ 'bad iccid',        { type => 'cellular', imei => $t->next_imei, iccid => '12' } ],
    [ 'short secret',     { type => 'cellular', imei => $t->next_imei, sharedSecret => 'abc' } ],
    [ 'no devEui',        { type => 'lora' } ],
    [ 'bad devEui',       { type => 'lora', devEui => 'zz11223344556677' } ],
    [ 'zero devEui',      { type => 'lora', devEui => '0000000000000000' } ],
    [ 'bad appKey',       { type => 'lora', devEui => 'aa11223344556677', appKey => 'x' } ],
    [ 'bad joinEui',      { type => 'lora', devEui => 'aa11223344556677', joinEui => '1' } ],
    [ 'no dvnUuid',       { type => 'generic', sharedSecret => $SECRET } ],
    [ 'bad dvnUuid',      { type => 'generic', dvnUuid => 'x', sharedSecret => $SECRET } ],
    [ 'generic, no secret', { type => 'generic', dvnUuid => '11111111-2222-4333-8444-555555555555' } ],
    [ 'secret with -',    { type => 'generic', dvnUuid => '11111111-2222-4333-8444-555555555555',
                            sharedSecret => ('a' x 30) . '-' } ],
    [ 'secret of 101',    { type => 'generic', dvnUuid => '11111111-2222-4333-8444-555555555555',
                            sharedSecret => 'a' x 101 } ],
    [ 'type a number',    { type => 1 } ],
)
{
    is_problem([ $api->call(POST => "/devices/$E->{id}/network-adapters",
                            body => $b->[1]) ], 400, "POST: $b->[0]");
}
is_problem([ $api->call(POST => "/devices/$E->{id}/network-adapters",
                        body => '[]') ], 400, 'POST: not an object');
is_deeply(adapters($E->{id}), $before, 'no bad request stored an adapter');
is_problem([ $api->call(POST => '/devices/imei:999999999999999/network-adapters',
    body => { type => 'lora', devEui => 'aa11223344556677' }) ], 404,
    'POST to no such device');
($st, undef, $h) = $api->call(PATCH => "/devices/$E->{id}/network-adapters",
                              body => {});
is($st, 405, 'PATCH is 405');
is($h->{allow}, 'GET, POST', 'with Allow');

# ---- scopes

my $ta = $col->create_token({ resource => "/collections/$aid", write => JTRUE })->{token};
my $ro = $col->create_token({ resource => '/' })->{token};
my $DB = $api->create_device($bid, { name => 'of B' });
is_problem([ $api->call(GET => "/devices/$DB->{id}/network-adapters", token => $ta) ],
           404, 'A\'s token: B\'s device has no adapters to show');
is_problem([ $api->call(POST => "/devices/$DB->{id}/network-adapters", token => $ta,
    body => { type => 'lora', devEui => 'bb11223344556677' }) ], 404,
    'A\'s token cannot add to B\'s device');
is_deeply(adapters($DB->{id}), [], 'B\'s device has none');
is(ref adapters($D->{id}, token => $ta), 'ARRAY', 'A\'s token reads A\'s');
is_problem([ $api->call(POST => "/devices/$E->{id}/network-adapters", token => $ro,
    body => { type => 'lora', devEui => 'bb11223344556677' }) ], 403,
    'a read-only token cannot add');
is_problem([ $api->call(DELETE => "/devices/$D->{id}/network-adapters/$L->{id}",
    token => $ro) ], 403, 'nor delete');

# ---- a restart keeps them

my %keep = map { $_ => adapters($_) } $D->{id}, $E->{id}, "imei:$CD->{imei}";
$t->restart;
is_deeply({ map { $_ => adapters($_) } keys %keep }, \%keep,
          'after a restart every adapter is as it was');
is(($api->call(GET => "/devices/dvnuuid:$DVN"))[1]{id}, $D->{id},
   'and found by its DVN UUID');

# ---- DELETE

is(($api->call(DELETE => "/devices/$D->{id}/network-adapters/$CE->{id}"))[0],
   204, 'DELETE the cellular adapter');
{
    my ($s, $l) = $col->call(GET => "/collections/$aid/devices");
    my ($c) = grep { ($_->{tags}{name} // '') eq 'three' } @{ $l->{devices} };
    is($c->{imei}, '', 'the device has no IMEI any more');
}
is_problem([ $api->call(GET => "/devices/imei:$IMEI") ], 404,
           'nor is it found by it');
is(($api->call(DELETE => "/devices/$D->{id}/network-adapters/$L->{id}"))[0],
   204, 'DELETE the LoRa adapter');
is_problem([ $api->call(DELETE => "/devices/$D->{id}/network-adapters/$L->{id}") ],
           404, 'DELETE it again');
is_problem([ $api->call(GET => "/devices/deveui:$EUI") ], 404,
           'the DevEUI finds nothing');
is_deeply(types(adapters($D->{id})), ['generic'], 'the generic one is left');

# deleting the device frees its identifiers
is(($api->call(DELETE => "/devices/$D->{id}"))[0], 204, 'DELETE the device');
is_problem([ $api->call(GET => "/devices/dvnuuid:$DVN") ], 404,
           'its DVN UUID finds nothing');
($st) = $api->call(POST => "/devices/$DB->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN, sharedSecret => $SECRET });
is($st, 201, 'another device may take the DVN UUID now');
$t->restart;
is(($api->call(GET => "/devices/dvnuuid:$DVN"))[1]{id}, $DB->{id},
   'after a restart: the new owner');

$t->finish;
done_testing;
