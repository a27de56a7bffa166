#!/usr/bin/perl
# Devices: create, get, list, patch, move, delete; IMSI/IMEI uniqueness;
# leading zeros; null and unknown keys; device tags sub-resource.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;

my $t = IoT::Test->new;
my $api = IoT::Collections->new($t);
$t->start;

my $A = ($api->call(POST => '/collections', body => {}))[1]{collectionId};
my $B = ($api->call(POST => '/collections', body => {}))[1]{collectionId};
like($A, $ID_RE, 'collection A');
like($B, $ID_RE, 'collection B');

sub dev_url { my ($c, $d) = @_; "/collections/$c/devices" . ($d ? "/$d" : '') }

sub list_ids {
    my ($c) = @_;
    my ($s, $l) = $api->call(GET => dev_url($c));
    return undef unless $s == 200 && ref $l->{devices} eq 'ARRAY';
    return [ map { $_->{deviceId} } @{ $l->{devices} } ];
}

# ---- create
my ($imsi1, $imei1) = ($t->next_imsi, $t->next_imei);
my ($st, $d1, $h) = $api->call(POST => dev_url($A),
    body => { imsi => $imsi1, imei => $imei1, tags => { name => 'first' } });
is($st, 201, 'POST device is 201');
like($h->{'content-type'} // '', qr{^application/json\b}i, 'JSON answer');
is_deeply([ sort keys %$d1 ],
          [ sort qw(deviceId collectionId imsi imei tags network) ],
          'device has exactly the documented keys');
like($d1->{deviceId}, $ID_RE, 'deviceId is an id');
is($d1->{collectionId}, $A, 'collectionId is the path collection');
is($d1->{imsi}, $imsi1, 'imsi kept');
is($d1->{imei}, $imei1, 'imei kept');
ok(!ref $d1->{imsi} && !ref $d1->{imei}, 'imsi/imei are strings');
is_deeply($d1->{tags}, { name => 'first' }, 'tags kept');
is_deeply($d1->{network}, { allocatedIp => '', allocatedAt => 0, cellId => 0,
                            imeisv => '', msisdn => '' },
          'network object of a device that never attached');
my $did1 = $d1->{deviceId};

# a device without tags: tags is still present
my ($st2, $d2) = $api->call(POST => dev_url($A),
    body => { imsi => $t->next_imsi, imei => $t->next_imei });
is($st2, 201, 'POST device without tags is 201');
is_deeply($d2->{tags}, {}, 'tags is an empty object');
ok(ref $d2->{network} eq 'HASH', 'network present');
my $did2 = $d2->{deviceId};

# ---- get
{
    my ($s, $g) = $api->call(GET => dev_url($A, $did1));
    is($s, 200, 'GET device is 200');
    is_deeply($g, $d1, 'GET returns what POST returned');
    is_error([$api->call(GET => dev_url($B, $did1))], 404,
             'device under another collection is 404');
    is_error([$api->call(PATCH => dev_url($B, $did1), body => { tags => { x => 'y' } })],
             404, 'PATCH device under another collection is 404');
    is_error([$api->call(DELETE => dev_url($B, $did1))], 404,
             'DELETE device under another collection is 404');
    is_deeply(($api->call(GET => dev_url($A, $did1)))[1], $d1,
              'device unchanged by requests under the wrong collection');
    is_error([$api->call(GET => dev_url('0000000000000', $did1))], 404,
             'device under an unknown collection is 404');
    is_error([$api->call(GET => dev_url($A, '0000000000000'))], 404,
             'unknown device is 404');
    is_error([$api->call(POST => dev_url('0000000000000'),
                         body => { imsi => $t->next_imsi, imei => $t->next_imei })],
             404, 'POST device into an unknown collection is 404');
}

# ---- list
{
    my ($s, $l) = $api->call(GET => dev_url($A));
    is($s, 200, 'GET devices is 200');
    is($l->{collectionId}, $A, 'list names its collection');
    my %by = map { $_->{deviceId} => $_ } @{ $l->{devices} || [] };
    is(scalar keys %by, 2, 'two devices listed');
    is_deeply($by{$did1}, $d1, 'device 1 listed as created');
    is_deeply($by{$did2}, $d2, 'device 2 listed as created');
    is_deeply(list_ids($A), [ sort $did1, $did2 ], 'list in id order');
    is_deeply(($api->call(GET => dev_url($B)))[1],
              { collectionId => $B, devices => [] }, 'B is empty');
}

# ---- patch
{
    my ($ni, $ne) = ($t->next_imsi, $t->next_imei);
    my ($s, $p) = $api->call(PATCH => dev_url($A, $did1),
        body => { imsi => $ni, imei => $ne, tags => { color => 'red' } });
    is($s, 200, 'PATCH imsi/imei/tags is 200');
    is($p->{imsi}, $ni, 'imsi changed');
    is($p->{imei}, $ne, 'imei changed');
    is_deeply($p->{tags}, { name => 'first', color => 'red' }, 'tags merged');
    is($p->{deviceId}, $did1, 'deviceId unchanged');
    is_deeply(($api->call(GET => dev_url($A, $did1)))[1], $p, 'GET shows PATCH');

    ($s, $p) = $api->call(PATCH => dev_url($A, $did1),
                          body => { tags => { name => '' } });
    is_deeply($p->{tags}, { color => 'red' }, 'tag removed with ""');

    # the old IMSI/IMEI are free again
    my ($s2, $d) = $api->call(POST => dev_url($B),
                              body => { imsi => $imsi1, imei => $imei1 });
    is($s2, 201, 'old IMSI and IMEI of a patched device can be reused');
    is(($api->call(DELETE => dev_url($B, $d->{deviceId})))[0], 204,
       'that device deleted');

    # patching to its own values is not a conflict
    ($s, $p) = $api->call(PATCH => dev_url($A, $did1),
                          body => { imsi => $ni, imei => $ne });
    is($s, 200, 'PATCH to the same IMSI/IMEI is 200');

    # nulls mean "not given", unknown keys are ignored
    my $before = ($api->call(GET => dev_url($A, $did1)))[1];
    ($s, $p) = $api->call(PATCH => dev_url($A, $did1),
        body => { imsi => undef, imei => undef, tags => undef,
                  collectionId => undef, deviceId => undef, network => undef,
                  foo => 'bar', nested => { x => [1, 2] } });
    is($s, 200, 'PATCH with nulls and unknown keys is 200');
    is_deeply($p, $before, 'nothing changed');
    $d1 = $p;
}

# ---- duplicates
{
    my $d2now = ($api->call(GET => dev_url($A, $did2)))[1];
    my $nA = scalar @{ list_ids($A) };
    my $nB = scalar @{ list_ids($B) };
    is_error([$api->call(POST => dev_url($A),
        body => { imsi => $d1->{imsi}, imei => $t->next_imei })], 409,
        'duplicate IMSI in the same collection',
        qr/^imsi: another device has this IMSI\z/);
    is_error([$api->call(POST => dev_url($B),
        body => { imsi => $d1->{imsi}, imei => $t->next_imei })], 409,
        'duplicate IMSI in another collection');
    is_error([$api->call(POST => dev_url($A),
        body => { imsi => $t->next_imsi, imei => $d1->{imei} })], 409,
        'duplicate IMEI in the same collection',
        qr/^imei: another device has this IMEI\z/);
    is_error([$api->call(POST => dev_url($B),
        body => { imsi => $t->next_imsi, imei => $d1->{imei} })], 409,
        'duplicate IMEI in another collection');
    is(scalar @{ list_ids($A) }, $nA, 'no device added to A');
    is(scalar @{ list_ids($B) }, $nB, 'no device added to B');

    is_error([$api->call(PATCH => dev_url($A, $did2),
                         body => { imsi => $d1->{imsi} })], 409,
             "PATCH to another device's IMSI");
    is_error([$api->call(PATCH => dev_url($A, $did2),
                         body => { imei => $d1->{imei} })], 409,
             "PATCH to another device's IMEI");
    my $offered = $t->next_imsi;
    is_error([$api->call(PATCH => dev_url($A, $did2),
                         body => { imsi => $offered, imei => $d1->{imei},
                                   tags => { changed => 'yes' } })], 409,
             'PATCH with a new IMSI but a taken IMEI');
    is_deeply(($api->call(GET => dev_url($A, $did2)))[1], $d2now,
              'refused PATCHes changed nothing (not even the IMSI or tags)');
    is_deeply(($api->call(GET => dev_url($A, $did1)))[1], $d1,
              'the other device is unchanged too');
    # the IMSI offered in the refused PATCH is still free
    my ($s, $d) = $api->call(POST => dev_url($B),
                             body => { imsi => $offered, imei => $t->next_imei });
    is($s, 201, 'IMSI offered in a refused PATCH was not taken');
    is(($api->call(DELETE => dev_url($B, $d->{deviceId})))[0], 204, 'deleted');
}

# ---- leading zeros
{
    my $base = sprintf '%d', 100 + int rand 800;
    my ($s1, $z1) = $api->call(POST => dev_url($A),
                               body => { imsi => "0$base", imei => "0${base}7" });
    is($s1, 201, 'IMSI/IMEI with a leading zero');
    is($z1->{imsi}, "0$base", 'leading zero kept in imsi');
    is($z1->{imei}, "0${base}7", 'leading zero kept in imei');
    my ($s2, $z2) = $api->call(POST => dev_url($A),
                               body => { imsi => $base, imei => "${base}7" });
    is($s2, 201, 'the same digits without the zero are another IMSI/IMEI');
    is($z2->{imsi}, $base, 'imsi without zero');
    is($z2->{imei}, "${base}7", 'imei without zero');
    my ($s3, $z3) = $api->call(POST => dev_url($A),
                               body => { imsi => "00$base", imei => "00${base}7" });
    is($s3, 201, 'two leading zeros are yet another');
    is_error([$api->call(POST => dev_url($A),
                         body => { imsi => "0$base", imei => $t->next_imei })],
             409, 'but "0..." itself is taken');
    is_error([$api->call(POST => dev_url($A),
                         body => { imsi => $t->next_imsi, imei => "00${base}7" })],
             409, 'and so is the IMEI "00..."');
    is(($api->call(GET => dev_url($A, $z1->{deviceId})))[1]{imsi}, "0$base",
       'GET keeps the leading zero');
    my ($s4, $z4) = $api->call(POST => dev_url($A),
                    body => { imsi => '1', imei => '0000000000000000' });
    is($s4, 201, 'one digit IMSI and 16 digit IMEI of zeros');
    is($z4->{imei}, '0000000000000000', 'all-zero IMEI kept as is');
    my ($s5, $z5) = $api->call(POST => dev_url($A),
                    body => { imsi => '9' x 16, imei => '2' });
    is($s5, 201, '16 digit IMSI and one digit IMEI');
    is($z5->{imsi}, '9' x 16, '16 digit IMSI kept');
    $api->call(DELETE => dev_url($A, $z5->{deviceId}));
    $api->call(DELETE => dev_url($A, $_->{deviceId})) for $z1, $z2, $z3, $z4;
}

# ---- nulls and unknown keys on create
{
    my ($s, $d) = $api->call(POST => dev_url($A),
        body => { deviceId => undef, collectionId => undef, tags => undef,
                  network => undef, imsi => $t->next_imsi,
                  imei => $t->next_imei, whatever => { a => [1] },
                  firmware => 'x' });
    is($s, 201, 'create with nulls and unknown keys is 201');
    like($d->{deviceId}, $ID_RE, 'got a fresh id');
    is($d->{collectionId}, $A, 'in the path collection');
    is_deeply($d->{tags}, {}, 'tags null -> empty');
    ok(!exists $d->{whatever} && !exists $d->{firmware},
       'unknown keys not echoed');
    is(($api->call(DELETE => dev_url($A, $d->{deviceId})))[0], 204, 'deleted');
}

# ---- move to another collection
{
    my ($s, $p) = $api->call(PATCH => dev_url($A, $did1),
                             body => { collectionId => $B });
    is($s, 200, 'PATCH collectionId is 200');
    is($p->{collectionId}, $B, 'device now in B');
    is($p->{deviceId}, $did1, 'same deviceId');
    is($p->{imsi}, $d1->{imsi}, 'same imsi');
    is_deeply($p->{tags}, $d1->{tags}, 'same tags');
    is_error([$api->call(GET => dev_url($A, $did1))], 404,
             'no longer under the old collection');
    my ($s2, $g) = $api->call(GET => dev_url($B, $did1));
    is($s2, 200, 'found under the new collection');
    is_deeply($g, $p, 'as the PATCH answered');
    is_deeply(list_ids($A), [$did2], 'A lists only the other device');
    is_deeply(list_ids($B), [$did1], 'B lists the moved device');
    is_error([$api->call(POST => dev_url($A),
        body => { imsi => $d1->{imsi}, imei => $t->next_imei })], 409,
        'moved device still holds its IMSI');

    # move to a collection that does not exist
    my ($s3) = $api->call(PATCH => dev_url($B, $did1),
                          body => { collectionId => '0000000000000' });
    ok($s3 == 404 || $s3 == 400,
       'move to an unknown collection is 404 or 400') or diag("got $s3");
    ($s3) = $api->call(PATCH => dev_url($B, $did1),
                       body => { collectionId => 'not-an-id' });
    ok($s3 == 404 || $s3 == 400,
       'move to a malformed collection id is 404 or 400') or diag("got $s3");
    is_deeply(($api->call(GET => dev_url($B, $did1)))[1], $p,
              'device unchanged after refused moves');

    # move back together with other changes
    ($s, $p) = $api->call(PATCH => dev_url($B, $did1),
        body => { collectionId => $A, tags => { moved => 'back' } });
    is($s, 200, 'move back with a tag change');
    is($p->{collectionId}, $A, 'back in A');
    is($p->{tags}{moved}, 'back', 'tag changed in the same PATCH');
    is_error([$api->call(GET => dev_url($B, $did1))], 404, 'gone from B');
    is_deeply(list_ids($A), [ sort $did1, $did2 ], 'A lists both again');
    $d1 = $p;
}

# ---- device tags sub-resource
{
    my $base = dev_url($A, $did1) . '/tags';
    my ($s, $tags) = $api->call(GET => $base);
    is($s, 200, 'GET device tags is 200');
    is_deeply($tags, $d1->{tags}, 'the tags object');
    ($s, $tags) = $api->call(PATCH => $base, body => { x => '1', moved => '' });
    is($s, 200, 'PATCH device tags is 200');
    is_deeply($tags, { color => 'red', x => '1' }, 'device tags merged');
    my ($s2, $v) = $api->call(GET => "$base/x");
    is($s2, 200, 'GET device tag is 200');
    is_deeply($v, { value => '1' }, 'device tag value');
    ($s2, $v) = $api->call(PATCH => "$base/y", body => { value => 'why' });
    is($s2, 200, 'PATCH device tag is 200');
    is_deeply($v, { value => 'why' }, 'PATCH device tag answer');
    is_deeply(($api->call(GET => dev_url($A, $did1)))[1]{tags},
              { color => 'red', x => '1', y => 'why' },
              'device shows the tag');
    is(($api->call(DELETE => "$base/y"))[0], 204, 'DELETE device tag is 204');
    is_error([$api->call(GET => "$base/y")], 404, 'deleted device tag is 404');
    is_error([$api->call(DELETE => "$base/y")], 404, 'DELETE again is 404');
    is_error([$api->call(GET => "$base/nosuch")], 404, 'missing device tag');
    ($s2) = $api->call(PATCH => "$base/x", body => { value => '' });
    is($s2, 200, 'PATCH device tag to "" is 200');
    is_error([$api->call(GET => "$base/x")], 404, 'tag removed by ""');
    is_error([$api->call(GET => dev_url($B, $did1) . '/tags')], 404,
             'device tags under the wrong collection');
    is_error([$api->call(GET => dev_url($B, $did1) . '/tags/color')], 404,
             'device tag under the wrong collection');
    is_deeply(($api->call(GET => dev_url($A, $did1)))[1]{tags}, { color => 'red' },
              'final device tags');
}

# ---- delete
{
    my $imsi = ($api->call(GET => dev_url($A, $did2)))[1]{imsi};
    my ($s, undef, undef, $raw) = $api->call(DELETE => dev_url($A, $did2));
    is($s, 204, 'DELETE device is 204');
    is($raw, '', 'no body');
    is_error([$api->call(GET => dev_url($A, $did2))], 404, 'deleted device 404');
    is_error([$api->call(DELETE => dev_url($A, $did2))], 404, 'DELETE again 404');
    is_error([$api->call(GET => dev_url($A, $did2) . '/tags')], 404,
             'tags of deleted device 404');
    is_deeply(list_ids($A), [$did1], 'deleted device not listed');
    my ($s2) = $api->call(POST => dev_url($B),
                          body => { imsi => $imsi, imei => $t->next_imei });
    is($s2, 201, 'IMSI of a deleted device can be used again');
}

# ---- device ids grow with time: creation time (ms) in the high 42 bits
{
    require Time::HiRes;
    my ($C) = ($api->call(POST => '/collections', body => {}))[1]{collectionId};
    my (@made, @ms);
    for my $i (1 .. 5) {
        my $before = int(Time::HiRes::time() * 1000);
        my ($s, $d) = $api->call(POST => dev_url($C),
            body => { imsi => $t->next_imsi, imei => $t->next_imei });
        my $after = int(Time::HiRes::time() * 1000) + 1;
        push @made, $d->{deviceId};
        my $v = 0;
        $v = $v * 32 + index('0123456789abcdefghijklmnopqrstuv', $_)
            for split //, $d->{deviceId};
        my $t_ms = $v >> 21;
        push @ms, ($t_ms >= $before - 1 && $t_ms <= $after) ? 1 : "$t_ms";
        Time::HiRes::sleep(0.003);
    }
    is_deeply(\@ms, [ (1) x 5 ], 'a device id starts with its creation time');
    is_deeply(list_ids($C), \@made, 'devices list in the order they were made');
}

$t->finish;
done_testing;
