//+------------------------------------------------------------------+
//| TicketMap.mqh -- follower's master->follower ticket links.       |
//| Brokers may rewrite order comments, so links never rely on them: |
//| they live here (and in the state file) keyed by master account   |
//| and master ticket. Pure code.                                    |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_TICKETMAP_MQH
#define COPYGATEWAY_TICKETMAP_MQH

#include <CopyGateway/JsonWriter.mqh>
#include <CopyGateway/JsonDoc.mqh>

struct STicketLink
  {
   string            master_account;  // "" when the server did not say
   int               master_ticket;
   int               follower_ticket;
   string            symbol;
  };

class CTicketMap
  {
private:
   STicketLink       m_links[];   // all links

   int               IndexOf(const string master_account,const int master_ticket) const
     {
      for(int i=0;i<ArraySize(m_links);i++)
         if(m_links[i].master_ticket==master_ticket && m_links[i].master_account==master_account)
            return(i);
      return(-1);
     }

public:
   int               Count(void) const { return(ArraySize(m_links)); }
   void              Clear(void) { ArrayResize(m_links,0); }
   int               Find(const string master_account,const int master_ticket) const
     {
      int i=IndexOf(master_account,master_ticket);
      return(i>=0 ? m_links[i].follower_ticket : 0);
     }
   int               MasterOf(const int follower_ticket) const
     {
      for(int i=0;i<ArraySize(m_links);i++)
         if(m_links[i].follower_ticket==follower_ticket)
            return(m_links[i].master_ticket);
      return(0);
     }
   void              Set(const string master_account,const int master_ticket,const int follower_ticket,const string symbol)
     {
      int i=IndexOf(master_account,master_ticket);
      if(i<0)
        {
         i=ArraySize(m_links);
         ArrayResize(m_links,i+1,32);
        }
      m_links[i].master_account=master_account;
      m_links[i].master_ticket=master_ticket;
      m_links[i].follower_ticket=follower_ticket;
      m_links[i].symbol=symbol;
     }
   //--- a partial close gave the follower position a new ticket
   void              Renumber(const int old_follower_ticket,const int new_follower_ticket)
     {
      for(int i=0;i<ArraySize(m_links);i++)
         if(m_links[i].follower_ticket==old_follower_ticket)
            m_links[i].follower_ticket=new_follower_ticket;
     }
   void              RemoveFollower(const int follower_ticket)
     {
      int n=ArraySize(m_links);
      for(int i=n-1;i>=0;i--)
         if(m_links[i].follower_ticket==follower_ticket)
           {
            for(int k=i;k<n-1;k++)
               m_links[k]=m_links[k+1];
            n--;
           }
      ArrayResize(m_links,n);
     }
   string            Serialize(void) const
     {
      CJsonWriter w;
      w.BeginObject();
      w.KeyInt("v",1);
      w.Key("links");
      w.BeginArray();
      for(int i=0;i<ArraySize(m_links);i++)
        {
         w.BeginObject();
         w.KeyStr("a",m_links[i].master_account);
         w.KeyInt("m",m_links[i].master_ticket);
         w.KeyInt("f",m_links[i].follower_ticket);
         w.KeyStr("s",m_links[i].symbol);
         w.EndObject();
        }
      w.EndArray();
      w.EndObject();
      return(w.Text());
     }
   bool              Load(const string text)
     {
      Clear();
      CJsonDoc doc;
      if(!doc.Parse(text))
         return(false);
      int list=doc.Find(doc.Root(),"links");
      for(int e=doc.First(list);e>=0;e=doc.Next(e))
        {
         string account,symbol;
         long m=0,f=0;
         doc.GetString(e,"a",account);
         doc.GetString(e,"s",symbol);
         if(doc.GetLong(e,"m",m) && doc.GetLong(e,"f",f))
            Set(account,(int)m,(int)f,symbol);
        }
      return(true);
     }
  };

#endif
