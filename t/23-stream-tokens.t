#!/usr/bin/perl
# Open streams follow their token: a token deleted, or changed so that it
# no longer reaches a stream, closes the streams it opened at once, in
# every worker, with 1008 and a reason that says why; streams the change
# leaves in scope, other tokens' streams and the admin token's go on
# (docs/websocket.md, "Closing").

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::WebSocket;

use constant { CLOSE => 8, PING => 9, PONG => 10 };

my $t = IoT::Test->new(workers => 2);
my $api = IoT::Collections->new($t);
$t->start;

my $A = $api->create_collection->{collectionId};
my $B = $api->create_collection->{collectionId};
my $D = $api->create_device($A)->{deviceId};
my $E = $api->create_device($A)->{deviceId};

sub token {
    my ($resource) = @_;
    return $api->create_token({ resource => $resource })->{token};
}

sub ws {
    my ($path, $tok, %o) = @_;
    return IoT::WebSocket->connect(port => $t->port, path => $path,
                                   token => $tok, %o);
}

# streams on $path until both workers have at least $n (the kernel spreads
# connections over the workers; extra ones are kept too)
sub streams_on_both {
    my ($path, $tok, $n) = @_;
    my (@s, %on);
    for (1 .. 200) {
        my $ws = ws($path, $tok);
        is($ws->{status}, 101, "stream $path opened") or last;
        push @s, $ws;
        $on{ $ws->{headers}{'x-worker'} // '?' }++;
        last if keys %on >= 2 && !grep { $_ < $n } values %on;
    }
    cmp_ok(scalar keys %on, '>=', 2, "streams on $path in both workers");
    return @s;
}

# a stream still open: a ping is answered with its pong
sub alive {
    my ($ws, $name) = @_;
    $ws->send_frame(opcode => PING, payload => 'still');
    my $f = $ws->recv_frame;
    ok($f && $f->{opcode} == PONG && $f->{payload} eq 'still',
       "$name: still open") or diag(explain($f));
}

# a stream closed by the server with 1008 and a reason, then the TCP close
sub closed {
    my ($ws, $re, $name) = @_;
    my $c = $ws->wait_close;
    ok($c, "$name: a close frame") or return;
    is($c->{code}, 1008, "$name: code 1008");
    like($c->{reason}, $re, "$name: the reason");
    $ws->send_close(1008);
    ok($ws->wait_eof, "$name: the connection is closed");
}

# ---- a deleted token: its streams close in both workers
{
    my $tok = token("/collections/$A");
    my $other = token("/collections/$A");
    my @s = streams_on_both("/collections/$A/from", $tok, 1);
    my $dev = ws("/collections/$A/devices/$D/from", $tok);
    is($dev->{status}, 101, 'and a device stream of the same token');
    my $keep = ws("/collections/$A/from", $other);
    my $admin = ws("/collections/$A/from", $t->admin_token);
    is($keep->{status}, 101, "another token's stream");
    is($admin->{status}, 101, "the admin token's stream");

    is(($api->call(DELETE => "/tokens/$tok"))[0], 204, 'token deleted');

    my $i = 0;
    closed($_, qr/token was deleted/, 'deleted token, stream ' . ++$i)
        for @s, $dev;
    alive($keep, "another token's stream");
    alive($admin, "the admin token's stream");

    my $again = ws("/collections/$A/from", $tok);
    is($again->{status}, 401, 'the deleted token opens no new stream');
    $_->close for $keep, $admin;
}

# ---- a narrowed token: streams outside its new resource close, the rest
# go on
{
    my $tok = token("/collections/$A");
    my @coll = streams_on_both("/collections/$A/from", $tok, 1);
    my @dev = streams_on_both("/collections/$A/devices/$D/from", $tok, 1);
    my $dev2 = ws("/collections/$A/devices/$E/from", $tok);
    is($dev2->{status}, 101, 'a stream of another device');

    # a change that keeps every stream in scope closes none
    my ($s) = $api->call(PATCH => "/tokens/$tok",
                         body => { tags => { note => 'x' } });
    is($s, 200, 'token tags changed');
    alive($_, 'tags changed') for $coll[0], $dev[0], $dev2;

    ($s) = $api->call(PATCH => "/tokens/$tok",
                      body => { resource => "/collections/$A/devices/$D" });
    is($s, 200, 'token narrowed to one device');

    my $i = 0;
    closed($_, qr/no longer reaches/, 'narrowed, collection stream ' . ++$i)
        for @coll;
    closed($dev2, qr/no longer reaches/, 'narrowed, the other device');
    alive($_, 'narrowed, the device it still reaches') for @dev;

    ($s) = $api->call(PATCH => "/tokens/$tok",
                      body => { resource => "/collections/$B" });
    is($s, 200, 'token moved to another collection');
    $i = 0;
    closed($_, qr/no longer reaches/, 'moved, device stream ' . ++$i)
        for @dev;

    my $new = ws("/collections/$B/from", $tok);
    is($new->{status}, 101, 'the token opens streams where it reaches now');
    my $old = ws("/collections/$A/from", $tok);
    is($old->{status}, 403, 'and not where it no longer does');

    # widened: nothing closes
    ($s) = $api->call(PATCH => "/tokens/$tok", body => { resource => '/' });
    is($s, 200, 'token widened to everything');
    alive($new, 'widened');
    $new->close;
}

# ---- a token with a write flag change keeps its streams (scope unchanged)
{
    my $tok = token("/collections/$A");
    my $ws = ws("/collections/$A/from", $tok);
    is($ws->{status}, 101, 'a stream');
    my ($s) = $api->call(PATCH => "/tokens/$tok", body => { write => JTRUE });
    is($s, 200, 'token made writable');
    alive($ws, 'write flag changed');
    $ws->close;
}

like($t->read_log, qr/WebSocket stream closed with 1008: the API token was deleted/,
     'the error log says why a stream was closed');

$t->check_log('streams and tokens');
$t->finish;
done_testing;
