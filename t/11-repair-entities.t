#!/usr/bin/perl
# The crash journal repairs every kind of write, not only a device's
# creation (09-repair.t): a worker's writer thread is killed by gdb right
# after the commit of a collection's tag change, a device's tag change, a
# token's creation and a token's change of resource and tags (two zone
# allocations in one write); each time the next worker reloads that entity
# from the store, frees what the dead write allocated, and the zone agrees
# with the store.

use strict;
use warnings;
use Test::More;
use POSIX ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

plan skip_all => 'gdb is not installed' unless -x $IoT::Test::GDB;
plan skip_all => 'not under valgrind' if $ENV{IOT_TEST_VALGRIND};

# one worker: the request must land on the worker gdb holds
my $t = IoT::Test->new(workers => 1);
my $api = IoT::Collections->new($t);
$t->start;

my ($st, $C) = $api->call(POST => '/collections', body => { tags => { a => 'b' } });
is($st, 201, 'collection made');
my $cid = $C->{collectionId};

my ($ds, $D) = $api->call(POST => "/collections/$cid/devices",
                          body => { imsi => $t->next_imsi,
                                    imei => $t->next_imei,
                                    tags => { x => 'y' } });
is($ds, 201, 'device made');
my $did = $D->{deviceId};

# the write is cut off right after its batch's commit; it is never answered
sub cut {
    my ($method, $path, $body) = @_;
    my ($w) = $t->workers;

    my $gdb = $t->gdb($w, ['break ngx_iot_store_commit', 'continue',
                           'finish', 'kill'], timeout => 60);

    ok(IoT::Test::wait_until(sub { $t->traced_by($w) }, 30), "gdb attached");
    sleep 2;

    my $kid = fork // die;
    if ($kid == 0) {
        $api->call($method => $path, body => $body);
        POSIX::_exit(0);
    }

    my $out = do { local $/; <$gdb> };
    close $gdb;
    waitpid $kid, 0;

    like($out, qr/ngx_iot_store_commit/, "$method $path: the worker stopped");

    ok(IoT::Test::wait_until(sub {
        my @w = $t->workers;
        return @w == 1 && $w[0] != $w
               && (($api->call(GET => '/'))[0] // 0) == 200;
    }, 30), 'the master started a new worker');
}

cut(PATCH => "/collections/$cid", { tags => { a => 'c', n => 'm' } });
my ($gs, $G) = $api->call(GET => "/collections/$cid");
is($gs, 200, 'the collection is there');
is_deeply($G->{tags}, { a => 'c', n => 'm' },
          '... with the tags the store committed');

cut(PATCH => "/collections/$cid/devices/$did", { tags => { x => 'z' } });
($gs, $G) = $api->call(GET => "/collections/$cid/devices/$did");
is($gs, 200, 'the device is there');
is_deeply($G->{tags}, { x => 'z' }, '... with the committed tags');

cut(POST => '/tokens', { resource => "/collections/$cid",
                         write => JTRUE });
my ($ls, $L) = $api->call(GET => '/tokens');
is($ls, 200, 'tokens listed from the store');
my @tk = @{ $L->{tokens} || [] };
is(scalar @tk, 1, 'the committed token is in the store');

SKIP: {
    skip 'no token', 2 unless @tk;
    my ($ts, $T) = $api->call(GET => "/tokens/$tk[0]{token}");
    is($ts, 200, 'and in the zone');
    is($T && $T->{resource}, "/collections/$cid", '... with its resource');
}

# named by itself, as a client would
my ($ns, $N) = $api->call(POST => '/tokens',
                       body => { resource => "/collections/$cid" });
is($ns, 201, 'another token made');
my $secret = $N->{token};

cut(PATCH => "/tokens/$secret", { resource => '/collections',
                                  tags => { k => 'v' } });
my ($ts, $T) = $api->call(GET => "/tokens/$secret");
is($ts, 200, 'the changed token is there');
is($T && $T->{resource}, '/collections', '... with the new resource');
is_deeply($T && $T->{tags}, { k => 'v' }, '... and the new tags');

for my $name ((map { $_->{token} } @tk), $secret) {
    my ($xs) = $api->call(DELETE => "/tokens/$name");
    is($xs, 204, 'a token can be deleted');
}

my ($dd) = $api->call(DELETE => "/collections/$cid/devices/$did");
is($dd, 204, 'the device can be deleted');
my ($cs) = $api->call(DELETE => "/collections/$cid");
is($cs, 204, 'the collection count of devices is right: delete works');

my @repairs = $t->read_log =~ /died during a write, reloading that entity/g;
is(scalar @repairs, 4, 'four repairs are logged');

$t->check_log('repair', allow => [qr/exited on signal 9/,
                                  qr/was locked by/]);
$t->finish;
done_testing;
