package IoT::Iotda;

# The client of the iotda dialect (Huawei Cloud IoTDA v5; `iot_api
# iotda`, mounted at /v5/iot/): paths below /v5/iot/{project_id}, errors
# {"error_code":"IOTDA.xxxxxx","error_msg":...}, and the credentials of
# the dialect: X-Auth-Token, or the AK/SK request signature of the Huawei
# Cloud SDKs (SDK-HMAC-SHA256, V11-HMAC-SHA256), made here as the SDKs
# make it (an independent implementation of docs/iotda.md).
#
#   use IoT::Iotda;               # exports is_iotda_error, access_key
#   my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS);
#   $t->start;
#   my $api = IoT::Iotda->new($t, project => $uuid_hex);   # X-Auth-Token
#   my ($ak, $sk) = access_key($token);
#   my $signed = IoT::Iotda->new($t, project => $p, ak => $ak, sk => $sk,
#                                algorithm => 'V11-HMAC-SHA256');
#   my ($st, $j, $h, $raw) = $signed->call(GET => '/devices/x');
#   my $sdk = IoT::Iotda::sdk($t, $project);   # the Huawei SDK core, or undef
#   my $r = $sdk->($ak, $sk, 'GET', '/v5/iot/{project_id}/devices/x');

use strict;
use warnings;

use parent 'IoT::Client';

use Test::More;
use JSON::XS ();
use Exporter 'import';
use Digest::SHA qw(sha256 sha256_hex hmac_sha256 hmac_sha256_hex);
use POSIX qw(strftime);

our @EXPORT = qw(is_iotda_error access_key sdk_date);

# a server with the three dialects, as conf/nginx.conf.example has them
our $LOCATIONS =
    "location /v5/iot/ {\n    iot_api iotda;\n}\n"
  . "location /v3.0/OS-CREDENTIAL/ {\n    iot_api iotda;\n}\n"
  . "location ~ ^/(devices|device-groups|ingestion)(/|\$) {\n"
  . "    iot_api things;\n}\n"
  . "location / {\n    iot_api collections;\n}\n";

# the access key of an API token: its public prefix, and the secret key
# derived from the token's SHA-256 (docs/iotda.md, "Access keys")
sub access_key {
    my ($token) = @_;
    return (substr($token, 0, 12),
            hmac_sha256_hex('nginx-iot iotda secret key', sha256($token)));
}

# X-Sdk-Date of a time (default: now)
sub sdk_date {
    my ($time) = @_;
    return strftime('%Y%m%dT%H%M%SZ', gmtime(defined $time ? $time : time));
}

#   project   => the project_id of the paths
#   ak, sk    => sign with this access key (else X-Auth-Token: token)
#   algorithm => 'SDK-HMAC-SHA256' (default) or 'V11-HMAC-SHA256'
#   region    => of V11 (default cn-north-4)
sub new {
    my ($class, $t, %o) = @_;
    my $self = $class->SUPER::new($t, algorithm => 'SDK-HMAC-SHA256',
                                  region => 'cn-north-4', %o);
    return $self;
}

sub auth_headers {
    my ($self, $token) = @_;
    return $self->{ak} ? () : ('X-Auth-Token' => $token);
}

# ------------------------------------------------------------ signing

# percent-encoding of the canonical request: only A-Z a-z 0-9 - _ . ~ bare
sub _encode {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub _decode {
    my ($s) = @_;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# the hex SHA-256 of the canonical request
#   $headers: { lower-case name => value } of the signed headers
sub canonical_hash {
    my ($method, $path, $query, $signed, $headers, $body_hash) = @_;
    my $uri = join '/', map { _encode(_decode($_)) } split m{/}, $path, -1;
    $uri .= '/' unless $uri =~ m{/\z};
    my @pairs;
    for my $p (split /&/, $query // '') {
        next unless length $p;
        my ($k, $v) = split /=/, $p, 2;
        push @pairs, [_decode($k), _decode($v // '')];
    }
    my $q = join '&', map { _encode($_->[0]) . '=' . _encode($_->[1]) }
        sort { $a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] } @pairs;
    my $h = join '', map {
        my $v = $headers->{$_} // '';
        $v =~ s/^[ \t]+|[ \t]+\z//g;
        "$_:$v\n";
    } split /;/, $signed;
    return sha256_hex(join "\n", $method, $uri, $q, $h, $signed,
                      $body_hash);
}

# (signature, V11 info) of a canonical request's hash
sub signature {
    my (%o) = @_;
    if ($o{algorithm} eq 'V11-HMAC-SHA256') {
        my $info = substr($o{date}, 0, 8) . "/$o{region}/iotdm";
        my $key = unpack 'H*', hkdf_sha256($o{sk}, $o{ak}, $info, 32);
        return (hmac_sha256_hex("V11-HMAC-SHA256\n$o{date}\n$info\n"
                                . $o{canonical}, $key), $info);
    }
    return (hmac_sha256_hex("SDK-HMAC-SHA256\n$o{date}\n$o{canonical}",
                            $o{sk}), undef);
}

# RFC 5869
sub hkdf_sha256 {
    my ($ikm, $salt, $info, $len) = @_;
    my $prk = hmac_sha256($ikm, $salt);
    my ($t, $okm) = ('', '');
    for (my $i = 1; length $okm < $len; $i++) {
        $t = hmac_sha256($t . $info . chr($i), $prk);
        $okm .= $t;
    }
    return substr $okm, 0, $len;
}

# ------------------------------------------------------------ requests

# ($status, $json, $headers, $raw) of a request below /v5/iot/{project}
#   body    => a reference (JSON) or raw bytes
#   query   => the raw query string, as sent
#   token   => X-Auth-Token (unsigned clients)
#   headers => extra headers (sent, and signed when lower-case in sign)
#   date    => X-Sdk-Date (default: now)
#   signed  => the SignedHeaders list (default
#              content-type;host;x-project-id;x-sdk-date)
#   tamper  => sub { my ($h, $body) = @_; ... } changes what is sent after
#              signing (returns the body)
#   project => another project in the path
sub call {
    my ($self, $method, $path, %o) = @_;
    my $project = $o{project} // $self->{project};
    my $full = "/v5/iot/$project$path";
    return $self->SUPER::call($method, $full . (defined $o{query}
                                                ? "?$o{query}" : ''), %o)
        unless $self->{ak};

    my $body = exists $o{body} ? $self->encode_body($o{body}) : '';
    my $date = $o{date} // sdk_date();
    my %h = ('Content-Type' => 'application/json',
             'X-Sdk-Date' => $date, 'X-Project-Id' => $project,
             %{ $o{headers} || {} });
    my %lc = map { lc($_) => $h{$_} } keys %h;
    $lc{host} = '127.0.0.1:' . $self->{t}->port;
    my $signed = $o{signed} // 'content-type;host;x-project-id;x-sdk-date';
    my $canonical = canonical_hash($method, $full, $o{query}, $signed, \%lc,
                                   sha256_hex($body));
    my ($sig, $info) = signature(algorithm => $self->{algorithm},
        date => $date, region => $self->{region}, ak => $self->{ak},
        sk => $self->{sk}, canonical => $canonical);
    $h{Authorization} = $self->{algorithm} eq 'V11-HMAC-SHA256'
        ? "V11-HMAC-SHA256 Credential=$self->{ak}/$info, "
          . "SignedHeaders=$signed, Signature=$sig"
        : "SDK-HMAC-SHA256 Access=$self->{ak}, SignedHeaders=$signed, "
          . "Signature=$sig";
    $body = $o{tamper}->(\%h, $body) if $o{tamper};

    my ($st, $headers, $raw) = $self->{t}->http($method,
        $full . (defined $o{query} ? "?$o{query}" : ''), headers => \%h,
        (length $body || exists $o{body} ? (body => $body) : ()));
    return ($st, $self->decode_body($raw), $headers, $raw);
}

# every answer with a body is a JSON object
sub decode_body {
    my ($self, $raw) = @_;
    my $json = $self->SUPER::decode_body($raw);
    return (defined $json && ref $json eq 'HASH') ? $json : undef;
}

# ------------------------------------------------------------ checks

# an error of the dialect: status, JSON, error_code (a string or a
# pattern), error_msg, X-Request-Id (five assertions)
#   is_iotda_error([$api->call(...)], 401, 'IOTDA.000002', 'name')
sub is_iotda_error {
    my ($res, $status, $code, $name) = @_;
    my ($st, $j, $h, $raw) = @$res;
    my $ok = 1;
    $ok &= is($st, $status, "$name: status $status");
    $ok &= like($h->{'content-type'} // '', qr{^application/json\b}i,
                "$name: JSON");
    $ok &= ref $code
        ? like($j && $j->{error_code}, $code, "$name: error_code")
        : is($j && $j->{error_code}, $code, "$name: error_code $code");
    $ok &= ok($j && defined $j->{error_msg} && !ref $j->{error_msg}
              && length $j->{error_msg}, "$name: error_msg");
    $ok &= like($h->{'x-request-id'} // '', qr/^[0-9a-f]{32}\z/,
                "$name: X-Request-Id");
    diag("answer: $st $raw") unless $ok;
    return $ok;
}


# The official Huawei Cloud SDK core (t/npm, installed by build.sh) as a
# client: a sub ($ak, $sk, $method, $path, $query, $body) that sends one
# request signed by it (t/npm/iotda-sdk.js) and returns its result
# ({status, body, ...}, or {raw => its output}); undef without node or
# the SDK.
sub sdk {
    my ($t, $project) = @_;
    my $root = IoT::Test::root();
    my $node = `sh -c 'command -v node' 2>/dev/null`;
    chomp $node;
    return undef
        unless $node && -d "$root/t/npm/node_modules/\@huaweicloud";
    return sub {
        my ($ak, $sk, @args) = @_;
        local $ENV{HOME} = $t->prefix;
        my @cmd = ($node, "$root/t/npm/iotda-sdk.js",
                   'http://127.0.0.1:' . $t->port, $ak, $sk, $project,
                   @args);
        open my $fh, '-|', @cmd or die "node: $!";
        my $out = join '', <$fh>;
        close $fh;
        my ($line) = $out =~ /^iotda-sdk-result (.*)$/m;
        return (defined $line && eval { JSON::XS::decode_json($line) })
               || { raw => $out };
    };
}

1;
