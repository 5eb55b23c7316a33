"""The ActiveSync WBXML code pages (MS-ASWBXML 2.1.2.1): page number → (namespace, token → tag).

The namespace is the name the XML form of a document uses ("{AirSync}Sync"); tags are the names
of MS-ASWBXML. Pages the suite does not serve (Calendar 4, MeetingResponse 8, Tasks 9) and
tokens of protocol 2.5 only are left out: a document using them is refused (WBXMLError). So is
Find (page 25, protocol 16.1): the command is not offered. The 16.0/16.1 tokens of the pages kept
are here (AirSyncBase Add…InstanceId, Email2 IsDraft/Bcc/Send, ComposeMail Forwardees…Email,
Provision AccountOnlyRemoteWipe): drafts (activesync.drafts) use them."""

from __future__ import annotations


def _page(first: int, names: str) -> dict[int, str]:
    """Tokens from `first` upwards, one name per word; "-" marks a token not defined."""
    return {first + i: name for i, name in enumerate(names.split()) if name != "-"}


CODE_PAGES: dict[int, tuple[str, dict[int, str]]] = {
    0: (
        "AirSync",
        _page(
            0x05,
            """
        Sync Responses Add Change Delete Fetch SyncKey ClientId ServerId Status Collection Class
        - CollectionId GetChanges MoreAvailable WindowSize Commands Options FilterType - - Conflict
        Collections ApplicationData DeletesAsMoves - Supported SoftDelete MIMESupport MIMETruncation
        Wait Limit Partial ConversationMode MaxItems HeartbeatInterval""",
        ),
    ),
    1: (
        "Contacts",
        _page(
            0x05,
            """
        Anniversary AssistantName AssistantPhoneNumber Birthday - - - Business2PhoneNumber
        BusinessCity BusinessCountry BusinessPostalCode BusinessState
        BusinessStreet BusinessFaxNumber BusinessPhoneNumber CarPhoneNumber Categories Category
        Children Child CompanyName Department Email1Address Email2Address Email3Address FileAs
        FirstName Home2PhoneNumber HomeCity HomeCountry HomePostalCode
        HomeState HomeStreet HomeFaxNumber HomePhoneNumber JobTitle LastName MiddleName
        MobilePhoneNumber OfficeLocation OtherCity OtherCountry OtherPostalCode
        OtherState OtherStreet PagerNumber RadioPhoneNumber Spouse Suffix Title WebPage
        YomiCompanyName YomiFirstName YomiLastName - Picture Alias WeightedRank""",
        ),
    ),
    2: (
        "Email",
        _page(
            0x0F,
            """
        DateReceived - DisplayTo Importance MessageClass Subject Read To Cc From Reply-To AllDayEvent
        Categories Category DTStamp EndTime InstanceType BusyStatus Location MeetingRequest Organizer
        RecurrenceId Reminder ResponseRequested Recurrences Recurrence Recurrence_Type Recurrence_Until
        Recurrence_Occurrences Recurrence_Interval Recurrence_DayOfWeek Recurrence_DayOfMonth
        Recurrence_WeekOfMonth Recurrence_MonthOfYear StartTime Sensitivity TimeZone GlobalObjId
        ThreadTopic - - - InternetCPID Flag FlagStatus ContentClass FlagType CompleteTime
        DisallowNewTimeProposal""",
        ),
    ),
    5: ("Move", _page(0x05, "MoveItems Move SrcMsgId SrcFldId DstFldId Response Status DstMsgId")),
    6: (
        "GetItemEstimate",
        _page(
            0x05,
            """
        GetItemEstimate Version Collections Collection Class CollectionId DateTime Estimate Response
        Status""",
        ),
    ),
    7: (
        "FolderHierarchy",
        _page(
            0x07,
            """
        DisplayName ServerId ParentId Type - Status - Changes Add Delete Update SyncKey FolderCreate
        FolderDelete FolderUpdate FolderSync Count""",
        ),
    ),
    10: (
        "ResolveRecipients",
        _page(
            0x05,
            """
        ResolveRecipients Response Status Type Recipient DisplayName EmailAddress Certificates
        Certificate MiniCertificate Options To CertificateRetrieval RecipientCount MaxCertificates
        MaxAmbiguousRecipients CertificateCount Availability StartTime EndTime MergedFreeBusy Picture
        MaxSize Data MaxPictures""",
        ),
    ),
    11: (
        "ValidateCert",
        _page(
            0x05,
            """
        ValidateCert Certificates Certificate CertificateChain CheckCRL Status""",
        ),
    ),
    12: (
        "Contacts2",
        _page(
            0x05,
            """
        CustomerId GovernmentId IMAddress IMAddress2 IMAddress3 ManagerName CompanyMainPhone
        AccountName NickName MMS""",
        ),
    ),
    13: ("Ping", _page(0x05, "Ping AutdState Status HeartbeatInterval Folders Folder Id Class MaxFolders")),
    14: (
        "Provision",
        _page(
            0x05,
            """
        Provision Policies Policy PolicyType PolicyKey Data Status RemoteWipe EASProvisionDoc
        DevicePasswordEnabled AlphanumericDevicePasswordRequired RequireStorageCardEncryption
        PasswordRecoveryEnabled - AttachmentsEnabled MinDevicePasswordLength
        MaxInactivityTimeDeviceLock MaxDevicePasswordFailedAttempts MaxAttachmentSize
        AllowSimpleDevicePassword DevicePasswordExpiration DevicePasswordHistory AllowStorageCard
        AllowCamera RequireDeviceEncryption AllowUnsignedApplications AllowUnsignedInstallationPackages
        MinDevicePasswordComplexCharacters AllowWiFi AllowTextMessaging AllowPOPIMAPEmail AllowBluetooth
        AllowIrDA RequireManualSyncWhenRoaming AllowDesktopSync MaxCalendarAgeFilter AllowHTMLEmail
        MaxEmailAgeFilter MaxEmailBodyTruncationSize MaxEmailHTMLBodyTruncationSize
        RequireSignedSMIMEMessages RequireEncryptedSMIMEMessages RequireSignedSMIMEAlgorithm
        RequireEncryptionSMIMEAlgorithm AllowSMIMEEncryptionAlgorithmNegotiation AllowSMIMESoftCerts
        AllowBrowser AllowConsumerEmail AllowRemoteDesktop AllowInternetSharing
        UnapprovedInROMApplicationList ApplicationName ApprovedApplicationList Hash
        AccountOnlyRemoteWipe""",
        ),
    ),
    15: (
        "Search",
        _page(
            0x05,
            """
        Search - Store Name Query Options Range Status Response Result Properties Total EqualTo Value
        And Or FreeText - DeepTraversal LongId RebuildResults LessThan GreaterThan - - UserName
        Password ConversationId Picture MaxSize MaxPictures""",
        ),
    ),
    16: (
        "GAL",
        _page(
            0x05,
            """
        DisplayName Phone Office Title Company Alias FirstName LastName HomePhone MobilePhone
        EmailAddress Picture Status Data""",
        ),
    ),
    17: (
        "AirSyncBase",
        _page(
            0x05,
            """
        BodyPreference Type TruncationSize AllOrNone - Body Data EstimatedDataSize Truncated
        Attachments Attachment DisplayName FileReference Method ContentId ContentLocation IsInline
        NativeBodyType ContentType Preview BodyPartPreference BodyPart Status Add Delete ClientId
        Content Location Annotation Street City State Country PostalCode Latitude Longitude Accuracy
        Altitude AltitudeAccuracy LocationUri InstanceId""",
        ),
    ),
    18: (
        "Settings",
        _page(
            0x05,
            """
        Settings Status Get Set Oof OofState StartTime EndTime OofMessage AppliesToInternal
        AppliesToExternalKnown AppliesToExternalUnknown Enabled ReplyMessage BodyType DevicePassword
        Password DeviceInformation Model IMEI FriendlyName OS OSLanguage PhoneNumber UserInformation
        EmailAddresses SmtpAddress UserAgent EnableOutboundSMS MobileOperator PrimarySmtpAddress
        Accounts Account AccountId AccountName UserDisplayName SendDisabled -
        RightsManagementInformation""",
        ),
    ),
    19: (
        "DocumentLibrary",
        _page(
            0x05,
            """
        LinkId DisplayName IsFolder CreationDate LastModifiedDate IsHidden ContentLength
        ContentType""",
        ),
    ),
    20: (
        "ItemOperations",
        _page(
            0x05,
            """
        ItemOperations Fetch Store Options Range Total Properties Data Status Response Version Schema
        Part EmptyFolderContents DeleteSubFolders UserName Password Move DstFldId ConversationId
        MoveAlways""",
        ),
    ),
    21: (
        "ComposeMail",
        _page(
            0x05,
            """
        SendMail SmartForward SmartReply SaveInSentItems ReplaceMime - Source FolderId ItemId LongId
        InstanceId Mime ClientId Status AccountId - Forwardees Forwardee Name Email""",
        ),
    ),
    22: (
        "Email2",
        _page(
            0x05,
            """
        UmCallerID UmUserNotes UmAttDuration UmAttOrder ConversationId ConversationIndex
        LastVerbExecuted LastVerbExecutionTime ReceivedAsBcc Sender CalendarType IsLeapMonth
        AccountId FirstDayOfWeek MeetingMessageType - IsDraft Bcc Send""",
        ),
    ),
    23: ("Notes", _page(0x05, "Subject MessageClass LastModifiedDate Categories Category")),
    24: (
        "RightsManagement",
        _page(
            0x05,
            """
        RightsManagementSupport RightsManagementTemplates RightsManagementTemplate
        RightsManagementLicense EditAllowed ReplyAllowed ReplyAllAllowed ForwardAllowed
        ModifyRecipientsAllowed ExtractAllowed PrintAllowed ExportAllowed ProgrammaticAccessAllowed
        Owner ContentExpiryDate TemplateID TemplateName TemplateDescription ContentOwner
        RemoveRightsManagementProtection""",
        ),
    ),
}

# namespace → page number, and (namespace, tag) → token
PAGE_OF: dict[str, int] = {namespace: page for page, (namespace, _tags) in CODE_PAGES.items()}
TOKEN_OF: dict[tuple[str, str], int] = {
    (namespace, tag): token
    for _page_no, (namespace, tags) in CODE_PAGES.items()
    for token, tag in tags.items()
}
