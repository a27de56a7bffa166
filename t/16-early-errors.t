#!/usr/bin/perl
# Errors that nginx answers before a location is chosen (a malformed request
# line or URI, a bad Content-Length, a URI too long, TRACE, an unknown
# transfer encoding) come in the dialect's JSON error format where the
# server says `iot_api_errors`, and as nginx's HTML where it does not.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::JSON;

my $t = IoT::Test->new(server_conf => 'iot_api_errors collections;');
$t->start;

my $H = "Host: x\r\nConnection: close\r\n";
my @cases = (
    [ 400, 'a %00 in the URI',         "GET /collections/%00 HTTP/1.1\r\n$H\r\n" ],
    [ 400, 'a bad Content-Length',     "POST /collections HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n" ],
    [ 400, 'a request line of garbage', "\x01\x02 / HTTP/1.1\r\n$H\r\n" ],
    [ 414, 'a URI over 8k',            'GET /' . ('a' x 9000) . " HTTP/1.1\r\n$H\r\n" ],
    [ 405, 'TRACE',                    "TRACE / HTTP/1.1\r\n$H\r\n" ],
    [ 501, 'an unknown transfer encoding',
      "POST /collections HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n" ],
);

for my $c (@cases) {
    my ($want, $name, $req) = @$c;
    my ($st, $h, $body) = IoT::Test::parse_response($t->raw_request($req));
    is($st, $want, "$name: $want");
    like($h->{'content-type'} // '', qr{^application/json}, '... as JSON');
    my $j = json_decode($body);
    ok($j && $j->{status} == $want && length($j->{message} // ''),
       '... {"status","message"}') or diag($body);
    is($h->{allow}, 'GET, HEAD, POST, PUT, PATCH, DELETE', '... with Allow')
        if $want == 405;
}

# without the directive: nginx's own page
$t->stop;
my $u = IoT::Test->new;
$u->start;
my ($st, $h) = IoT::Test::parse_response(
    $u->raw_request("TRACE / HTTP/1.1\r\n$H\r\n"));
is($st, 405, 'without iot_api_errors: TRACE is 405');
like($h->{'content-type'} // '', qr{^text/html}, '... as nginx\'s HTML');

done_testing;
