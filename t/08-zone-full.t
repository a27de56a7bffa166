#!/usr/bin/perl
# A full shared memory zone: a clean 503, an [error] line, nothing lost,
# room again after deletions; a restart with a zone too small for what is
# stored fails with a clear [emerg].

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

# small enough to fill fast: the zone's own structures (its indexes, two
# of them the iotda dialect's products) and a collection (with its UUID,
# 128 bytes of slab) leave room for a few dozen devices
my $ZONE = $ENV{IOT_TEST_SMALL_ZONE} || '88k';
my $MAX  = 20000;    # stop even if the zone never fills

my $t = IoT::Test->new(zone => $ZONE);
my $api = IoT::Collections->new($t);
$t->start;

my ($s0, $C) = $api->call(POST => '/collections', body => {});
is($s0, 201, "collection made in a $ZONE zone");
my $cid = $C->{collectionId};
my $base = "/collections/$cid/devices";

$t->log_mark;
my (%made, @order, @full, $other);
for my $i (1 .. $MAX) {
    my $body = { imsi => $t->next_imsi, imei => $t->next_imei };
    my @res = $api->call(POST => $base, body => $body);
    if ($res[0] == 201) {
        $made{ $res[1]{deviceId} } = $res[1];
        push @order, $res[1]{deviceId};
        next;
    }
    @full = (@res, $body);
    last;
}
ok(scalar(@order) >= 10, 'some devices fitted before the zone filled')
    or diag('made ' . scalar(@order));
unless (ok(scalar @full, "the zone filled up before $MAX devices")) {
    diag('zone never filled; lower IOT_TEST_SMALL_ZONE');
    $t->finish;
    done_testing;
    exit;
}
note(scalar(@order) . " devices fitted in $ZONE");

is_error([ @full[0 .. 3] ], 503, 'create in a full zone');
my $failed = $full[4];
like($t->log_slice, qr/\[error\][^\n]*zone/i,
     'an [error] line in the log mentions the zone');
$t->check_log('zone full');

# everything answered 201 before is still there
{
    my @missing = grep { (($api->call(GET => "$base/$_"))[0]) != 200 } @order;
    ok(!@missing, 'every device made before is readable')
        or diag(scalar(@missing) . " missing, e.g. $missing[0]");
    my ($s, $l) = $api->call(GET => $base);
    is($s, 200, 'the list still works in a full zone');
    is_deeply([ map { $_->{deviceId} } @{ $l->{devices} || [] } ],
              [ sort @order ], 'every device made before is listed, no other');
    ok(!(grep { $_->{imsi} eq $failed->{imsi} } @{ $l->{devices} || [] }),
       'the refused device is not listed');
}

# still full: more refusals, each with 503, nothing half-made
for my $i (1 .. 3) {
    my $body = { imsi => $t->next_imsi, imei => $t->next_imei };
    my @res = $api->call(POST => $base, body => $body);
    is($res[0], 503, "still full: create #$i is 503");
}
{
    my ($s, $c) = $api->call(POST => '/collections', body => {});
    ok($s == 503 || $s == 201, 'a new collection: 503, or 201 if it is smaller')
        or diag("got $s");
    is(scalar @{ ($api->call(GET => '/collections'))[1]{collections} || [] },
       $s == 201 ? 2 : 1, 'no collection half-made');
    $api->call(DELETE => "/collections/$c->{collectionId}") if $s == 201;
}
is(($api->call(GET => '/'))[0], 200, 'reads still work');
{
    # a change that may need more room: done whole, or refused with 503
    my $u = "$base/$order[-1]";
    my $before = ($api->call(GET => $u))[1];
    my ($s, $p) = $api->call(PATCH => $u,
        body => { imsi => $t->next_imsi . '1', tags => { grow => 'x' x 500 } });
    ok($s == 200 || $s == 503, 'PATCH in a full zone: 200 or 503')
        or diag("got $s");
    my $after = ($api->call(GET => $u))[1];
    if ($s == 503) {
        is_deeply($after, $before, '503: the device is unchanged');
    } else {
        is_deeply($after, $p, '200: the device is as answered');
        $made{ $p->{deviceId} } = $p;
    }
}
$t->check_log('still full');

# deleting frees room
{
    my @del = @order[0 .. 19];
    my @st = map { ($api->call(DELETE => "$base/$_"))[0] } @del;
    ok(!(grep { $_ != 204 } @st), 'deleted 20 devices in a full zone')
        or diag("@st");
    delete @made{@del};
    @order = @order[20 .. $#order];
    is_error([$api->call(GET => "$base/$del[0]")], 404, 'deleted device is gone');

    my ($s, $d) = $api->call(POST => $base, body => { imsi => $failed->{imsi},
                                                      imei => $failed->{imei} });
    is($s, 201, 'after deletions a device fits again, with the refused IMSI');
    if ($s == 201) { $made{ $d->{deviceId} } = $d; push @order, $d->{deviceId} }
    for (1 .. 5) {
        ($s, $d) = $api->call(POST => $base,
                              body => { imsi => $t->next_imsi, imei => $t->next_imei });
        last unless $s == 201;
        $made{ $d->{deviceId} } = $d;
        push @order, $d->{deviceId};
    }
    is($s, 201, 'several more fit');
}

# fill again, then a restart with a big zone shows exactly what was answered
{
    for (1 .. $MAX) {
        my ($s, $d) = $api->call(POST => $base,
                                 body => { imsi => $t->next_imsi, imei => $t->next_imei });
        last unless $s == 201;
        $made{ $d->{deviceId} } = $d;
        push @order, $d->{deviceId};
    }
    $t->check_log('full again');
    $t->restart(zone => '16m');
    my ($s, $l) = $api->call(GET => $base);
    is_deeply([ map { $_->{deviceId} } @{ $l->{devices} || [] } ],
              [ sort @order ],
              'after restart with a bigger zone: exactly the devices answered 201');
    my @diff = grep { json_encode($_) ne json_encode($made{ $_->{deviceId} } // {}) }
               @{ $l->{devices} || [] };
    ok(!@diff, 'each as it was answered');
    my @st;
    for (1 .. 100) {
        ($s, my $d) = $api->call(POST => $base, body => { imsi => $t->next_imsi,
                                                       imei => $t->next_imei });
        push @st, $s;
        push @order, $d->{deviceId} if $s == 201;
    }
    ok(!(grep { $_ != 201 } @st), 'room for 100 more in the bigger zone');
    $t->check_log('bigger zone');
}

# a zone too small for what is stored: nginx refuses to start
{
    $t->stop;
    # $ZONE was enough for an empty store at the start; now it is not
    $t->write_config(zone => $ZONE);
    $t->log_mark;
    my $st = $t->start_should_fail;
    ok(defined $st, 'nginx exits when the stored data does not fit the zone')
        or diag('nginx kept running with a zone too small for the store');
    ok(defined $st && $st != 0, 'with a non-zero status');
    my $slice = $t->log_slice;
    like($slice, qr/\[emerg\][^\n]*(zone|memory|iot)/i,
         'a clear [emerg] line says why');
    unlike($slice, qr/exited on signal/, 'no crashed process');
    $t->log_mark;    # the [emerg] is expected

    $t->write_config(zone => '16m');
    $t->start;
    is(scalar @{ ($api->call(GET => $base))[1]{devices} || [] }, scalar @order,
       'starts again with a big enough zone, nothing lost');
}

$t->finish;
done_testing;
