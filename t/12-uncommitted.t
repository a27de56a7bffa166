#!/usr/bin/perl
# A batch of writes changes the zone before its transaction commits (each
# write sees the ones before it, as it would alone), and is answered only
# once it has committed.  A worker killed right before that commit leaves
# a zone that the store does not have: the next process reloads what the
# batch named from the store, so the writes vanish from the zone too (they
# were never answered, so that is allowed; a zone that disagrees with the
# store is not).  gdb stops the writer thread at ngx_iot_store_commit and
# kills the worker there.

use strict;
use warnings;
use Test::More;
use POSIX ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IO::Socket::INET;

plan skip_all => 'gdb is not installed' unless -x $IoT::Test::GDB;
plan skip_all => 'not under valgrind' if $ENV{IOT_TEST_VALGRIND};

# one worker: the request must land on the worker gdb holds
my $t = IoT::Test->new(workers => 1);
my $api = IoT::Collections->new($t);
$t->start;

my ($st, $C) = $api->call(POST => '/collections', body => {});
is($st, 201, 'collection made');
my $cid = $C->{collectionId};

my ($ds, $D) = $api->call(POST => "/collections/$cid/devices",
                          body => { imsi => $t->next_imsi,
                                    imei => $t->next_imei,
                                    tags => { x => 'y' } });
is($ds, 201, 'device made');
my $did = $D->{deviceId};

# the write stops at its batch's commit and its worker dies there
sub cut {
    my ($method, $path, $body) = @_;
    my ($w) = $t->workers;

    my $gdb = $t->gdb($w, ['break ngx_iot_store_commit', 'continue', 'kill'],
                      timeout => 60);

    ok(IoT::Test::wait_until(sub { $t->traced_by($w) }, 30), 'gdb attached');
    sleep 2;

    # a plain socket: an HTTP client could send an idempotent request
    # again to the next worker when the connection breaks
    my $kid = fork // die;
    if ($kid == 0) {
        my $json = defined $body ? json_encode($body) : '';
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->port, Proto => 'tcp')
            or POSIX::_exit(1);
        print $s "$method $path HTTP/1.0\r\n"
                 . "X-API-Token: " . $t->admin_token . "\r\n"
                 . "Content-Type: application/json\r\n"
                 . "Content-Length: " . length($json) . "\r\n\r\n$json";
        my $answer = do { local $/; <$s> };
        POSIX::_exit(0);
    }

    my $out = do { local $/; <$gdb> };
    close $gdb;
    waitpid $kid, 0;

    like($out, qr/ngx_iot_store_commit/, "$method $path: stopped at the commit");

    ok(IoT::Test::wait_until(sub {
        my @w = $t->workers;
        return @w == 1 && $w[0] != $w
               && (($api->call(GET => '/'))[0] // 0) == 200;
    }, 30), 'the master started a new worker');
}

# a change of tags that never committed
cut(PATCH => "/collections/$cid/devices/$did", { tags => { x => 'z' } });
my ($gs, $G) = $api->call(GET => "/collections/$cid/devices/$did");
is($gs, 200, 'the device is there');
is_deeply($G->{tags}, { x => 'y' }, '... with the tags the store has');

# a creation that never committed: no device, its identifiers free again
my $imsi = $t->next_imsi;
my $imei = $t->next_imei;
cut(POST => "/collections/$cid/devices", { imsi => $imsi, imei => $imei });
my ($ls, $L) = $api->call(GET => "/collections/$cid/devices");
is($ls, 200, 'devices listed');
is(scalar(grep { $_->{imsi} eq $imsi } @{ $L->{devices} || [] }), 0,
   'the uncommitted device is not in the store');
my ($ns, $N) = $api->call(POST => "/collections/$cid/devices",
                          body => { imsi => $imsi, imei => $imei });
is($ns, 201, 'its IMSI and IMEI are free in the zone');

# a deletion that never committed: the collection is still there
cut(DELETE => "/collections/$cid/devices/$N->{deviceId}");
($gs) = $api->call(GET => "/collections/$cid/devices/$N->{deviceId}");
is($gs, 200, 'the device whose deletion never committed is there');

my ($dd) = $api->call(DELETE => "/collections/$cid/devices/$N->{deviceId}");
is($dd, 204, 'it can be deleted');
($dd) = $api->call(DELETE => "/collections/$cid/devices/$did");
is($dd, 204, 'and the first device');
my ($cs) = $api->call(DELETE => "/collections/$cid");
is($cs, 204, 'the count of devices is right: the collection can go');

my @repairs = $t->read_log =~ /died during a write, reloading that entity/g;
is(scalar @repairs, 3, 'three repairs are logged');

$t->check_log('uncommitted', allow => [qr/exited on signal 9/,
                                       qr/was locked by/]);
$t->finish;
done_testing;
