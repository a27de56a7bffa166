#!/usr/bin/perl
# Cross-worker visibility (proven with the X-Worker header), and data that
# survives a reload (HUP), a full restart (rebuilt from SQLite) and kill -9
# of the worker that answered the write.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

my $t = IoT::Test->new(workers => 2);
my $api = IoT::Collections->new($t);
$t->start;

my @W = $t->workers;
is(scalar @W, 2, 'two workers');

# every current worker answers $path with 200 and the same JSON
sub same_everywhere {
    my ($path, $want, $name, %o) = @_;
    my $all = $api->req_all_workers(GET => $path, %o);
    my @pids = grep { /^\d+$/ } keys %$all;
    my %w = map { $_ => 1 } $t->workers;
    ok(!(grep { !$all->{$_} } keys %w), "$name: answered by every worker")
        or diag('workers ' . join(',', keys %w) . ' answered ' . join(',', keys %$all));
    my @bad = grep { $_->{status} != 200
                     || json_encode($_->{json} // {}) ne json_encode($want) }
              map { @$_ } values %$all;
    ok(!@bad, "$name: the same answer from every worker")
        or diag("$bad[0]{worker}: $bad[0]{status} $bad[0]{raw}");
}

# ---- cross-worker visibility
my ($C, $D);
{
    my $w = $api->req(POST => '/collections', body => { tags => { n => 'x' } });
    is($w->{status}, 201, 'collection made');
    $C = $w->{json};
    my $r = $api->req_other_worker($w->{worker}, GET => "/collections/$C->{collectionId}");
    ok($r, 'a read was answered by another worker');
    isnt($r && $r->{worker}, $w->{worker}, 'write and read in different workers');
    is($r && $r->{status}, 200, 'the other worker sees the new collection');
    is_deeply($r && $r->{json}, $C, '... exactly as created');

    my $cid = $C->{collectionId};
    my $wd = $api->req(POST => "/collections/$cid/devices",
        body => { imsi => $t->next_imsi, imei => $t->next_imei });
    is($wd->{status}, 201, 'device made');
    $D = $wd->{json};
    my $rd = $api->req_other_worker($wd->{worker},
                                    GET => "/collections/$cid/devices/$D->{deviceId}");
    is($rd && $rd->{status}, 200, 'device visible in the other worker');

    # the IMSI index is shared: a duplicate is refused by every worker
    my $all = $api->req_all_workers(POST => "/collections/$cid/devices",
        body => { imsi => $D->{imsi}, imei => $t->next_imei });
    my @st = map { "$_->{worker}:$_->{status}" } map { @$_ } values %$all;
    ok(keys(%$all) >= 2 && !(grep { !/:409$/ } @st),
       'duplicate IMSI refused by every worker') or diag("@st");

    # a change made in one worker is seen by the other
    my $p = $api->req(PATCH => "/collections/$cid/devices/$D->{deviceId}",
                      body => { tags => { step => 'patched' } });
    is($p->{status}, 200, 'device patched');
    $D = $p->{json};
    my $rp = $api->req_other_worker($p->{worker},
                                    GET => "/collections/$cid/devices/$D->{deviceId}");
    is_deeply($rp && $rp->{json}, $D, 'the other worker sees the PATCH');
    same_everywhere("/collections/$cid/devices/$D->{deviceId}", $D,
                    'patched device');

    # a deletion made in one worker is seen by the other
    my $x = $api->req(POST => "/collections/$cid/devices",
        body => { imsi => $t->next_imsi, imei => $t->next_imei });
    my $xd = $api->req(DELETE => "/collections/$cid/devices/$x->{json}{deviceId}");
    is($xd->{status}, 204, 'second device deleted');
    my $rx = $api->req_other_worker($xd->{worker},
        GET => "/collections/$cid/devices/$x->{json}{deviceId}");
    is($rx && $rx->{status}, 404, 'the other worker sees the deletion');
    same_everywhere("/collections/$cid/devices",
                    { collectionId => $cid, devices => [$D] }, 'device list');
}

# ---- concurrent writers in both workers: uniqueness holds across workers
{
    my $cid = $C->{collectionId};
    my @imsis = map { $t->next_imsi } 1 .. 10;
    my $res = $t->parallel(8, sub {
        my @out;
        for my $imsi (@imsis) {
            my $r = $api->req(POST => "/collections/$cid/devices",
                              body => { imsi => $imsi, imei => $t->next_imei . $_[0] });
            push @out, join ' ', $imsi, $r->{status}, $r->{worker} // '-',
                                 $r->{json} ? $r->{json}{deviceId} // '-' : '-';
        }
        return @out;
    });
    my (%made, %status, %workers, @ids);
    for my $line (map { @$_ } @$res) {
        my ($imsi, $st, $w, $id) = split ' ', $line;
        $status{$st}++;
        $workers{$w}++;
        if ($st == 201) { $made{$imsi}++; push @ids, $id }
    }
    is(scalar(map { @$_ } @$res), 80, '8 clients x 10 creates answered');
    ok(keys(%workers) >= 2, 'the concurrent creates reached both workers')
        or diag(join ' ', keys %workers);
    is_deeply([ sort keys %status ], [ 201, 409 ], 'every answer 201 or 409')
        or diag(join ' ', map { "$_:$status{$_}" } keys %status);
    is_deeply(\%made, { map { $_ => 1 } @imsis },
              'each IMSI created exactly once across workers');
    my ($s, $l) = $api->call(GET => "/collections/$cid/devices");
    my %listed = map { $_->{imsi} => 1 } @{ $l->{devices} || [] };
    ok(!(grep { !$listed{$_} } @imsis), 'all ten listed');
    is(scalar @{ $l->{devices} || [] }, 11, 'and nothing else (10 + 1 device)');
    my %uniq = map { $_ => 1 } @ids;
    is(scalar keys %uniq, 10, 'ten distinct ids');
    $api->call(DELETE => "/collections/$cid/devices/$_") for @ids;
    is(scalar @{ ($api->call(GET => "/collections/$cid/devices"))[1]{devices} }, 1,
       'cleaned up');
}

my $cid = $C->{collectionId};
my $durl = "/collections/$cid/devices/$D->{deviceId}";
my ($s0, $TK) = $api->call(POST => '/tokens',
                           body => { resource => "/collections/$cid", write => JTRUE });
is($s0, 201, 'token made');

# ---- reload
{
    my @old = $t->workers;
    my @new = $t->reload;
    ok(!(grep { my $o = $_; grep { $_ == $o } @new } @old), 'new workers after HUP');
    same_everywhere($durl, $D, 'device after reload');
    same_everywhere("/collections/$cid", $C, 'collection after reload');
    same_everywhere("/collections/$cid/devices/$D->{deviceId}", $D,
                    'token still valid after reload', token => $TK->{token});
    my $all = $api->req_all_workers(POST => "/collections/$cid/devices",
        body => { imsi => $D->{imsi}, imei => $t->next_imei });
    my @st = map { $_->{status} } map { @$_ } values %$all;
    ok(@st && !(grep { $_ != 409 } @st), 'IMSI index intact after reload')
        or diag("@st");
    my ($s, $d2) = $api->call(POST => "/collections/$cid/devices",
        body => { imsi => $t->next_imsi, imei => $t->next_imei });
    is($s, 201, 'writes work after reload');
    my $r = $api->req_all_workers(GET => "/collections/$cid/devices/$d2->{deviceId}");
    ok(!(grep { $_->{status} != 200 } map { @$_ } values %$r),
       'new device visible in every new worker');
    is(($api->call(DELETE => "/collections/$cid/devices/$d2->{deviceId}"))[0], 204,
       'and deleted again');
}
$t->check_log('reload');

# ---- full restart: the zone is rebuilt from SQLite
{
    my $admin = $t->admin_token;
    $t->restart;
    is($t->admin_token, $admin, 'admin token kept across restart');
    same_everywhere($durl, $D, 'device after restart');
    same_everywhere("/collections/$cid", $C, 'collection after restart');
    same_everywhere("/collections/$cid/devices",
                    { collectionId => $cid, devices => [$D] },
                    'device list after restart');
    same_everywhere("/collections/$cid/devices/$D->{deviceId}", $D,
                    'token valid after restart', token => $TK->{token});
    is_error([$api->call(POST => "/collections/$cid/devices",
                         body => { imsi => $D->{imsi}, imei => $t->next_imei })],
             409, 'IMSI index rebuilt after restart');
    is_error([$api->call(POST => "/collections/$cid/devices",
                         body => { imsi => $t->next_imsi, imei => $D->{imei} })],
             409, 'IMEI index rebuilt after restart');
}
$t->check_log('restart');

# ---- kill -9 of the worker that answered the write
{
    my $w = $api->req(PATCH => $durl, body => { tags => { step => 'before kill' } });
    is($w->{status}, 200, 'write before kill');
    $D = $w->{json};
    my $victim = $w->{worker};
    like($victim // '', qr/^\d+$/, "the write was answered by worker $victim");
    my @new = $t->kill_worker($victim);
    ok(!(grep { $_ == $victim } @new), 'killed worker replaced');
    is(scalar @new, 2, 'two workers again');
    same_everywhere($durl, $D, 'write of the killed worker survives');

    my $w2 = $api->req(POST => "/collections/$cid/devices",
        body => { imsi => $t->next_imsi, imei => $t->next_imei });
    is($w2->{status}, 201, 'new writes work after kill -9');
    my $r2 = $api->req_other_worker($w2->{worker},
                                    GET => "/collections/$cid/devices/$w2->{json}{deviceId}");
    is($r2 && $r2->{status}, 200, 'and are visible in the other worker');
    is_error([$api->call(POST => "/collections/$cid/devices",
                         body => { imsi => $D->{imsi}, imei => $t->next_imei })],
             409, 'IMSI index intact after kill -9');

    # kill every worker in turn, writing in between
    for my $round (1 .. 2) {
        my $ww = $api->req(PATCH => $durl, body => { tags => { round => "$round" } });
        $D = $ww->{json} if $ww->{status} == 200;
        $t->kill_worker($_) for $t->workers;
        same_everywhere($durl, $D, "round $round: data after killing all workers");
    }

    $t->restart;
    same_everywhere($durl, $D, 'after kill -9 and restart');
    my ($s, $l) = $api->call(GET => "/collections/$cid/devices");
    is(scalar @{ $l->{devices} || [] }, 2, 'both devices after restart');
}
$t->check_log('kill -9', allow => [qr/worker process \d+ exited on signal 9/]);

$t->finish;
done_testing;
