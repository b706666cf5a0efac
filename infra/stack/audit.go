package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsathena"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// AuditTableName is the Glue table over the audit bucket.
const AuditTableName = "records"

// GlueDatabaseName derives a per-stack database name: Glue names are
// lower-case and account-wide.
func GlueDatabaseName(stackName string) string {
	return strings.ReplaceAll(strings.ToLower(stackName), "-", "_") + "_audit"
}

// WorkGroupName is the Athena workgroup for audit queries.
func WorkGroupName(stackName string) string { return stackName + "-audit" }

func hardenedBucket(scope constructs.Construct, id string, p *awss3.BucketProps) awss3.Bucket {
	p.Encryption = awss3.BucketEncryption_S3_MANAGED
	p.BlockPublicAccess = awss3.BlockPublicAccess_BLOCK_ALL()
	p.EnforceSSL = jsii.Bool(true)
	p.MinimumTLSVersion = jsii.Number(1.2)
	p.ObjectOwnership = awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED
	p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	return awss3.NewBucket(scope, jsii.String(id), p)
}

func days(n int) awscdk.Duration { return awscdk.Duration_Days(jsii.Number(n)) }

// newAuditBuckets declares the write-once audit bucket and the bucket
// Athena writes query results to.
func newAuditBuckets(scope constructs.Construct, props Props) (auditBucket, results awss3.Bucket) {
	var logs awss3.Bucket
	if props.ServerAccessLogs {
		logs = hardenedBucket(scope, "AccessLogsBucket", &awss3.BucketProps{
			LifecycleRules: &[]*awss3.LifecycleRule{{Id: jsii.String("expire"), Expiration: days(props.ObjectLockDays)}},
		})
	}
	retention := awss3.ObjectLockRetention_Governance(days(props.ObjectLockDays))
	if props.ObjectLockMode == LockCompliance {
		retention = awss3.ObjectLockRetention_Compliance(days(props.ObjectLockDays))
	}
	ap := &awss3.BucketProps{
		Versioned:                  jsii.Bool(true),
		ObjectLockEnabled:          jsii.Bool(true),
		ObjectLockDefaultRetention: retention,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("tiering"),
			// Glacier Instant Retrieval, not Flexible: Athena cannot read
			// archived objects, and old audit records must stay queryable.
			Transitions: &[]*awss3.Transition{
				{StorageClass: awss3.StorageClass_INFREQUENT_ACCESS(), TransitionAfter: days(90)},
				{StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: days(365)},
			},
			// The writer never replaces an object (If-None-Match: *), so
			// noncurrent versions appear only if someone overwrites one by
			// hand; they stay locked for the retention period, then go.
			NoncurrentVersionExpiration:         days(props.ObjectLockDays + 1),
			AbortIncompleteMultipartUploadAfter: days(7),
		}},
	}
	if logs != nil {
		ap.ServerAccessLogsBucket = logs
		ap.ServerAccessLogsPrefix = jsii.String("audit/")
	}
	auditBucket = hardenedBucket(scope, "AuditBucket", ap)

	rp := &awss3.BucketProps{
		Versioned: jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire"),
			Expiration:                          days(30),
			NoncurrentVersionExpiration:         days(1),
			AbortIncompleteMultipartUploadAfter: days(1),
		}},
	}
	if logs != nil {
		rp.ServerAccessLogsBucket = logs
		rp.ServerAccessLogsPrefix = jsii.String("athena-results/")
	}
	results = hardenedBucket(scope, "AthenaResultsBucket", rp)
	return auditBucket, results
}

// AuditColumns mirror pkg/auditrecord.Record's JSON. Column names are lower-case
// because Hive's are; the OpenX SerDe matches JSON keys case-insensitively.
// detail stays a JSON string: its keys vary by action (json_extract it).
// time stays a string: from_iso8601_timestamp parses RFC 3339 with nanos.
var AuditColumns = [][2]string{
	{"id", "string"},
	{"time", "string"},
	{"action", "string"},
	{"actor", "string"},
	{"target", "struct<type:string,scope:string,name:string>"},
	{"requestid", "string"},
	{"policyid", "string"},
	{"detail", "string"},
	// ticket: the request's ticket reference (F15), searchable in Athena.
	{"ticket", "string"},
	// timeprecision: set when time is only the stream's approximate time
	// ("1s", "1m0s"): the change happened within [time, time+precision).
	{"timeprecision", "string"},
}

// projectionStart is the first date partition projection enumerates; no
// audit object predates Elevate.
const projectionStart = "2025-01-01"

// newAuditCatalog makes the audit bucket queryable: a Glue table with
// partition projection (no crawler, no MSCK REPAIR) and a workgroup whose
// settings users cannot override.
func newAuditCatalog(scope constructs.Construct, props Props, auditBucket, results awss3.Bucket) (awsglue.CfnDatabase, awsglue.CfnTable, awsathena.CfnWorkGroup) {
	account := awscdk.Stack_Of(scope).Account()
	db := awsglue.NewCfnDatabase(scope, jsii.String("AuditDatabase"), &awsglue.CfnDatabaseProps{
		CatalogId: account,
		DatabaseInput: &awsglue.CfnDatabase_DatabaseInputProperty{
			Name:        jsii.String(GlueDatabaseName(props.StackName)),
			Description: jsii.String("Elevate audit trail"),
		},
	})
	location := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("s3://"), auditBucket.BucketName(), jsii.String("/" + auditrecord.Prefix)})
	cols := make([]any, len(AuditColumns))
	for i, c := range AuditColumns {
		cols[i] = &awsglue.CfnTable_ColumnProperty{Name: jsii.String(c[0]), Type: jsii.String(c[1])}
	}
	table := awsglue.NewCfnTable(scope, jsii.String("AuditTable"), &awsglue.CfnTableProps{
		CatalogId:    account,
		DatabaseName: jsii.String(GlueDatabaseName(props.StackName)),
		TableInput: &awsglue.CfnTable_TableInputProperty{
			Name:        jsii.String(AuditTableName),
			Description: jsii.String("One row per audit record (gzip JSON lines under audit/dt=YYYY-MM-DD/)"),
			TableType:   jsii.String("EXTERNAL_TABLE"),
			Parameters: map[string]any{
				"classification":              "json",
				"compressionType":             "gzip",
				"projection.enabled":          "true",
				"projection.dt.type":          "date",
				"projection.dt.format":        "yyyy-MM-dd",
				"projection.dt.range":         projectionStart + ",NOW",
				"projection.dt.interval":      "1",
				"projection.dt.interval.unit": "DAYS",
				"storage.location.template":   awscdk.Fn_Join(jsii.String(""), &[]*string{location, jsii.String("dt=${dt}/")}),
			},
			PartitionKeys: []any{&awsglue.CfnTable_ColumnProperty{Name: jsii.String("dt"), Type: jsii.String("string")}},
			StorageDescriptor: &awsglue.CfnTable_StorageDescriptorProperty{
				Location:     location,
				Columns:      cols,
				InputFormat:  jsii.String("org.apache.hadoop.mapred.TextInputFormat"),
				OutputFormat: jsii.String("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
				Compressed:   jsii.Bool(true),
				SerdeInfo: &awsglue.CfnTable_SerdeInfoProperty{
					SerializationLibrary: jsii.String("org.openx.data.jsonserde.JsonSerDe"),
					Parameters: map[string]any{
						"ignore.malformed.json": "true",
						"case.insensitive":      "true",
					},
				},
			},
		},
	})
	table.AddResourceDependency(db, jsii.String("the table lives in the database, which CloudFormation must create first"))

	wg := awsathena.NewCfnWorkGroup(scope, jsii.String("AuditWorkGroup"), &awsathena.CfnWorkGroupProps{
		Name:                  jsii.String(WorkGroupName(props.StackName)),
		Description:           jsii.String("Elevate audit queries"),
		State:                 jsii.String("ENABLED"),
		RecursiveDeleteOption: jsii.Bool(true),
		WorkGroupConfiguration: &awsathena.CfnWorkGroup_WorkGroupConfigurationProperty{
			EnforceWorkGroupConfiguration:   jsii.Bool(true),
			PublishCloudWatchMetricsEnabled: jsii.Bool(true),
			// A runaway query over years of audit data stops at 10 GB.
			BytesScannedCutoffPerQuery: jsii.Number(10 * 1024 * 1024 * 1024),
			EngineVersion: &awsathena.CfnWorkGroup_EngineVersionProperty{
				SelectedEngineVersion: jsii.String("Athena engine version 3"),
			},
			ResultConfiguration: &awsathena.CfnWorkGroup_ResultConfigurationProperty{
				OutputLocation: awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("s3://"), results.BucketName(), jsii.String("/")}),
				EncryptionConfiguration: &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{
					EncryptionOption: jsii.String("SSE_S3"),
				},
				ExpectedBucketOwner: account,
			},
		},
	})
	return db, table, wg
}
